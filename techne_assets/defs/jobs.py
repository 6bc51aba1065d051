import dagster as dg

from techne_assets.defs.partitions import videos_partitions

# The four per-video assets and their checks, one run per video partition.
process_video_job = dg.define_asset_job(
    "process_video",
    selection=dg.AssetSelection.groups("call_documents"),
    partitions_def=videos_partitions,
    description="Materializes video → transcript → draft → document (and their checks) for one video.",
)


@dg.definitions
def jobs() -> dg.Definitions:
    return dg.Definitions(jobs=[process_video_job])
