"""The per-video job, and the executor every run of the code location uses.

Runs execute their steps in the run's own process (`in_process_executor`): when that process
dies (kill -9, a lost Fargate task) no step process is left behind to keep paying for the model
or publishing after run monitoring marked the run failed; the run retry then resumes from the
failed step. The graph is a chain, so steps in separate processes would buy no parallelism.
"""

import dagster as dg

# The per-video assets and their checks, one run per video partition.
process_video_job = dg.define_asset_job(
    "process_video",
    selection=dg.AssetSelection.groups("call_documents"),
    executor_def=dg.in_process_executor,
    description="Materializes video → transcript → draft → document (checked) → published_document "
    "for one video.",
)


@dg.definitions
def jobs() -> dg.Definitions:
    # The default executor also applies to the implicit asset jobs backfills run.
    return dg.Definitions(jobs=[process_video_job], executor=dg.in_process_executor)
