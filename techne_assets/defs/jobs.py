"""The per-video job, and the executor every run of the code location uses.

Runs execute their steps in the run's own process (`in_process_executor`): when that process
dies (kill -9, a lost Fargate task) no step process is left behind to keep paying for the model
or publishing after run monitoring marked the run failed; the run retry then resumes from the
failed step. The graph is a chain, so steps in separate processes would buy no parallelism.
"""

import dagster as dg

# What a batch backfill materializes through Dagster; the batch sensor writes the rest.
ARCHIVE_TRANSCRIPT_ASSETS = ("video", "transcript")

# The per-video assets and their checks, one run per video partition.
process_video_job = dg.define_asset_job(
    "process_video",
    selection=dg.AssetSelection.groups("call_documents"),
    executor_def=dg.in_process_executor,
    description="Materializes video → transcript → draft → document (checked) → published_document "
    "for one video.",
)

# Launched from the UI as a backfill with the run tag `techne/writer_mode=batch`, it is the
# equivalent of `techne backfill --via batch`: the batch sensor creates the group and writes the
# drafts through Bedrock batch. Without the tag, a backfill of it only transcribes.
archive_transcripts_job = dg.define_asset_job(
    "archive_transcripts",
    selection=dg.AssetSelection.assets(*ARCHIVE_TRANSCRIPT_ASSETS),
    executor_def=dg.in_process_executor,
    description="Registers and transcribes archive videos (video → transcript). Backfilled with the "
    "tag techne/writer_mode=batch, the batch sensor then writes their drafts through Bedrock batch "
    "and publishes them.",
)


@dg.definitions
def jobs() -> dg.Definitions:
    # The default executor also applies to the implicit asset jobs backfills run.
    return dg.Definitions(jobs=[process_video_job, archive_transcripts_job], executor=dg.in_process_executor)
