"""The run tags the Dagster layer reads and writes, in one place.

Dagster's own tag strings are spelled out here rather than imported from its private modules.
"""

from techne_assets.core.partition_keys import VIDEO_KEY_TAG

# Dagster's tags
PARTITION_TAG = "dagster/partition"
PARENT_RUN_TAG = "dagster/parent_run_id"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
RUN_KEY_TAG = "dagster/run_key"

# The project's tags
LAUNCHED_BY_TAG = "techne/launched_by"
WRITER_MODE_TAG = "techne/writer_mode"
BATCH_GROUP_TAG = "techne/batch_group"
BATCH_PASS_TAG = "techne/batch_pass"
BATCH_FINAL_TAG = "techne/batch_final"
PUBLISH_PASS = "publish"  # the batch_pass tag of a group's publication runs

__all__ = [
    "BATCH_FINAL_TAG", "BATCH_GROUP_TAG", "BATCH_PASS_TAG", "LAUNCHED_BY_TAG", "PARENT_RUN_TAG",
    "PARTITION_TAG", "PUBLISH_PASS", "RANGE_END_TAG", "RANGE_START_TAG", "RUN_KEY_TAG",
    "VIDEO_KEY_TAG", "WRITER_MODE_TAG",
]
