"""What a finished (or started) run of a video reports, read from the run's own records.

The one writer of tracking records and notifications: the run-status sensors call
`report_run` for daemon runs, and `techne process` calls it on the run it just finished. Every
figure comes from the instance: durations from the run's own start and end times, spend from
the per-call observations the `draft` step logs as each model call returns (so a run that
failed or was killed still reports what it paid), links from the publication's materialization,
the failure from the step or blocking check that stopped the run, whole, on one line. A video
of a batch group is drafted by the group's ranged runs, not by the run that publishes it: its
record adds the spend those runs observed for its partition, and says `writer_mode` "batch".
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import dagster as dg
from pydantic import BaseModel

from techne_assets.adapters.reporting import report_completed, report_failed
from techne_assets.adapters.tracking import RunRecord, RunStatus
from techne_assets.core.partition_keys import reference_for
from techne_assets.defs.batch_sensor import BATCH_GROUP_TAG, WRITER_MODE_TAG
from techne_assets.defs.errors import describe_step_failure
from techne_assets.defs.resources import NotifierResource, TrackingResource

MODEL_CALL_OBSERVATION = "model call"
VIDEO_KEY_TAG = "techne/video_key"
LAUNCHED_BY_TAG = "techne/launched_by"
PARTITION_TAG = "dagster/partition"
PARENT_RUN_TAG = "dagster/parent_run_id"
# A video's model calls: one draft run (on-demand) or a few passes of a batch group.
OBSERVATIONS_PER_VIDEO = 5000


class RunFailure(BaseModel):
    step: str
    reason: str


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")


def _events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> list[dg.DagsterEvent]:
    return [entry.dagster_event for entry in instance.all_logs(run_id, of_type=kind) if entry.dagster_event]


def _metadata_value(metadata: dict, name: str, default=None):
    value = metadata.get(name)
    return default if value is None else getattr(value, "value", value)


def run_spend(instance: dg.DagsterInstance, run_id: str) -> tuple[int, int, float]:
    """(input tokens, output tokens, US$) over every model call the run paid for."""
    input_tokens = output_tokens = 0
    cost = 0.0
    for event in _events(instance, run_id, dg.DagsterEventType.ASSET_OBSERVATION):
        observation = event.asset_observation_data.asset_observation
        if observation.description != MODEL_CALL_OBSERVATION:
            continue
        input_tokens += int(_metadata_value(observation.metadata, "input_tokens", 0))
        output_tokens += int(_metadata_value(observation.metadata, "output_tokens", 0))
        cost += float(_metadata_value(observation.metadata, "cost_usd", 0.0))
    return input_tokens, output_tokens, round(cost, 6)


def batch_draft_spend(instance: dg.DagsterInstance, group_id: str, partition_key: str) -> tuple[int, int, float]:
    """(input tokens, output tokens, US$) the draft runs of batch group `group_id` paid for one
    video: its ranged runs wrote many videos, and their call observations name the partition.
    Batch answers carry their batch-priced usage, so this is the video's real model cost."""
    group_runs = {run.run_id for run in instance.get_runs(filters=dg.RunsFilter(tags={BATCH_GROUP_TAG: group_id}))}
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("draft"), asset_partitions=[partition_key]),
        limit=OBSERVATIONS_PER_VIDEO,
    ).records
    input_tokens = output_tokens = 0
    cost = 0.0
    for record in records:
        observation = record.asset_observation
        if record.run_id not in group_runs or observation is None or observation.description != MODEL_CALL_OBSERVATION:
            continue
        input_tokens += int(_metadata_value(observation.metadata, "input_tokens", 0))
        output_tokens += int(_metadata_value(observation.metadata, "output_tokens", 0))
        cost += float(_metadata_value(observation.metadata, "cost_usd", 0.0))
    return input_tokens, output_tokens, round(cost, 6)


def _materialization_metadata(instance: dg.DagsterInstance, run_id: str, asset: str) -> dict:
    for event in _events(instance, run_id, dg.DagsterEventType.ASSET_MATERIALIZATION):
        if event.asset_key == dg.AssetKey(asset):
            return dict(event.step_materialization_data.materialization.metadata)
    return {}


def _media_duration(instance: dg.DagsterInstance, run_id: str, partition_key: str) -> float | None:
    """From this run's `video`, else the partition's latest (a retry starts after it)."""
    metadata = _materialization_metadata(instance, run_id, "video")
    if not metadata:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("video"), asset_partitions=[partition_key]), limit=1
        ).records
        if records and records[0].asset_materialization:
            metadata = dict(records[0].asset_materialization.metadata)
    duration = _metadata_value(metadata, "duration_seconds")
    return float(duration) if duration is not None else None


def run_failure(instance: dg.DagsterInstance, run: dg.DagsterRun) -> RunFailure:
    """The blocking check that failed (named, with its description), else the first failed
    step's whole reason, else the run's own failure message (a killed or interrupted run)."""
    for event in _events(instance, run.run_id, dg.DagsterEventType.ASSET_CHECK_EVALUATION):
        evaluation = event.event_specific_data
        if (not evaluation.passed and evaluation.blocking
                and evaluation.severity == dg.AssetCheckSeverity.ERROR):
            description = " ".join((evaluation.description or "check failed").split())
            return RunFailure(
                step=evaluation.check_name,
                reason=f"blocking check {evaluation.check_name} failed on "
                f"{evaluation.asset_key.to_user_string()}: {description}; nothing was published",
            )
    failures = _events(instance, run.run_id, dg.DagsterEventType.STEP_FAILURE)
    if failures:
        step, reason = describe_step_failure(failures[0])
        return RunFailure(step=step, reason=reason)
    for event in _events(instance, run.run_id, dg.DagsterEventType.RUN_FAILURE):
        if event.message:
            return RunFailure(step="run", reason=" ".join(event.message.split()))
    return RunFailure(step="run", reason=f"the run ended {run.status.value}")


def build_record(
    instance: dg.DagsterInstance, run: dg.DagsterRun, tracking: TrackingResource
) -> RunRecord:
    """The tracking record of `run` as its own records describe it now."""
    tracker = tracking.get()
    run_record = instance.get_run_record_by_id(run.run_id)
    partition_key = run.tags.get(PARTITION_TAG, "")
    started = (run_record.start_time if run_record else None) or (
        run_record.create_timestamp.timestamp() if run_record else time.time()
    )
    ended = run_record.end_time if run_record else None
    finished = run.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
                              dg.DagsterRunStatus.CANCELED)
    if finished and ended is None:
        ended = time.time()
    input_tokens, output_tokens, cost = run_spend(instance, run.run_id)
    group_id = run.tags.get(BATCH_GROUP_TAG)
    if group_id and partition_key:
        batch_input, batch_output, batch_cost = batch_draft_spend(instance, group_id, partition_key)
        input_tokens, output_tokens = input_tokens + batch_input, output_tokens + batch_output
        cost = round(cost + batch_cost, 6)
    parent_id = run.tags.get(PARENT_RUN_TAG)
    parent = tracker.get(parent_id) if parent_id else None
    status = RunStatus.STARTED
    error = None
    if run.status == dg.DagsterRunStatus.SUCCESS:
        status = RunStatus.COMPLETED
    elif finished:
        status = RunStatus.FAILED
        failure = run_failure(instance, run)
        error = f"{failure.step}: {failure.reason}"
    published = _materialization_metadata(instance, run.run_id, "published_document")
    return RunRecord(
        execution_id=run.run_id,
        # Backfill runs carry no per-run tag: their partition key names the video itself.
        video_key=run.tags.get(VIDEO_KEY_TAG) or reference_for(partition_key) or partition_key,
        partition_key=partition_key,
        status=status,
        started_at=_iso(started),
        updated_at=_iso(time.time()),
        finished_at=_iso(ended) if finished else None,
        duration_seconds=round(ended - started, 6) if finished else None,
        media_duration_seconds=_media_duration(instance, run.run_id, partition_key),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost,
        document_uris=_metadata_value(published, "document_uris", {}) or {},
        error=error,
        attempt=parent.attempt + 1 if parent else 1,
        parent_execution_id=parent_id,
        writer_mode="batch" if run.tags.get(WRITER_MODE_TAG) == "batch" else "on-demand",
    )


def record_start(instance: dg.DagsterInstance, run: dg.DagsterRun, tracking: TrackingResource) -> None:
    """The STARTED record of a run not yet tracked. The started sensor may see a run only after
    it ended, even while a final sensor writes it; the final record (and its one notification)
    is then the final sensors' alone, hence the write-if-absent."""
    tracker = tracking.get()
    if tracker.get(run.run_id) is not None:
        return
    record = build_record(instance, run, tracking)
    tracker.put_new(record.model_copy(
        update={"status": RunStatus.STARTED, "finished_at": None, "duration_seconds": None, "error": None}
    ))


def report_run(
    instance: dg.DagsterInstance,
    run: dg.DagsterRun,
    tracking: TrackingResource,
    notifier: NotifierResource,
) -> RunRecord:
    """Writes the run's tracking record; a finished run also sends its one notification and
    prints its outcome lines (a started run only records that it started)."""
    record = tracking.get().put(build_record(instance, run, tracking))
    if record.status == RunStatus.COMPLETED:
        report_completed(notifier.get(), record, run_url=notifier.run_url(run.run_id),
                         environment=notifier.environment)
    elif record.status == RunStatus.FAILED:
        report_failed(notifier.get(), record, run_url=notifier.run_url(run.run_id),
                      environment=notifier.environment)
    return record
