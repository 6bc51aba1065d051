"""Dagster wiring only: partitions, resources, assets, checks, sensors. Logic lives in core/ and adapters/."""
