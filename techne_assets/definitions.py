"""The code location: every Definitions object found in the `defs/` folder, merged."""

import warnings
from pathlib import Path

import dagster as dg

# `process_video` runs one video each (the inbox sensor's runs); only asset backfills batch
# `draft` ranges (its backfill policy). Dagster warns, on every load, that the job mixes backfill
# policies: expected here. (Set at import: the defs folder is loaded with warnings reset after.)
warnings.filterwarnings("ignore", message="Asset job process_video materializes assets with varying BackfillPolicies")


@dg.definitions
def defs() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
