import dagster as dg

# One partition per source video; the sensor, `techne process` and `techne backfill` add keys
# derived from storage keys by core.partition_keys.
videos_partitions = dg.DynamicPartitionsDefinition(name="videos")
