import dagster as dg

# The four per-video assets and their checks, one run per video partition.
process_video_job = dg.define_asset_job(
    "process_video",
    selection=dg.AssetSelection.groups("call_documents"),
    description="Materializes video → transcript → draft → document (and their checks) for one video.",
)


@dg.definitions
def jobs() -> dg.Definitions:
    return dg.Definitions(jobs=[process_video_job])
