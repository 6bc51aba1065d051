"""What a finished (or started) run of a video reports, read from the run's own records.

The one writer of tracking records and notifications: the run-status sensors call
`report_run` for daemon runs, and `techne process` calls it on the run it just finished. Every
figure comes from the instance: durations from the run's own start and end times, spend from
the per-call observations the `draft` step logs as each model call returns (so a run that
failed or was killed still reports what it paid), links from the publication's materialization,
the failure from the step or blocking check that stopped the run, whole, on one line.

A backfill drafts many videos in one ranged run (the `draft` backfill policy), and a batch group
in a few: the run that publishes a video adds the spend those runs observed for its partition
(batch records say `writer_mode` "batch"). A ranged run has no partition tag, so when it fails
each video of its range gets its own record, `<run id>/<partition key>`, and its own notice.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime

import dagster as dg
from pydantic import BaseModel

from techne_assets.adapters.reporting import report_completed, report_failed
from techne_assets.adapters.tracking import RunRecord, RunStatus
from techne_assets.core.partition_keys import reference_for
from techne_assets.defs.errors import describe_step_failure
from techne_assets.defs.partitions import videos_partitions
from techne_assets.defs.resources import NotifierResource, TrackingResource
from techne_assets.defs.run_tags import (
    BATCH_GROUP_TAG,
    PARENT_RUN_TAG,
    PARTITION_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    VIDEO_KEY_TAG,
    WRITER_MODE_TAG,
)

MODEL_CALL_OBSERVATION = "model call"
# A video's model calls: one draft run (on-demand) or a few passes of a batch group.
OBSERVATIONS_PER_VIDEO = 5000
VIDEO, DRAFT, PUBLISHED = dg.AssetKey("video"), dg.AssetKey("draft"), dg.AssetKey("published_document")
DRAFT_STEP, PUBLISH_STEP = "draft", "published_document"
# The metadata entry of a ranged draft step's failure: the reason of each video that failed.
FAILED_PARTITIONS = "failed_partitions"


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


def _call_totals(observations: Iterable[dg.AssetObservation | None]) -> tuple[int, int, float]:
    """(input tokens, output tokens, US$) over the `model call` observations among these."""
    input_tokens = output_tokens = 0
    cost = 0.0
    for observation in observations:
        if observation is None or observation.description != MODEL_CALL_OBSERVATION:
            continue
        input_tokens += int(_metadata_value(observation.metadata, "input_tokens", 0))
        output_tokens += int(_metadata_value(observation.metadata, "output_tokens", 0))
        cost += float(_metadata_value(observation.metadata, "cost_usd", 0.0))
    return input_tokens, output_tokens, round(cost, 6)


def run_spend(instance: dg.DagsterInstance, run_id: str) -> tuple[int, int, float]:
    """(input tokens, output tokens, US$) over every model call the run paid for."""
    return _call_totals(event.asset_observation_data.asset_observation
                        for event in _events(instance, run_id, dg.DagsterEventType.ASSET_OBSERVATION))


def draft_spend(instance: dg.DagsterInstance, partition_key: str, run_ids: set[str]) -> tuple[int, int, float]:
    """(input tokens, output tokens, US$) the draft runs `run_ids` paid for one video: a ranged
    run writes many videos, and its call observations name the partition. Batch answers carry
    their batch-priced usage, so this is the video's real model cost."""
    if not run_ids:
        return 0, 0, 0.0
    records = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=DRAFT, asset_partitions=[partition_key]),
        limit=OBSERVATIONS_PER_VIDEO,
    ).records
    return _call_totals(record.asset_observation for record in records if record.run_id in run_ids)


def _latest_materialization(instance: dg.DagsterInstance, asset: dg.AssetKey, partition_key: str,
                            not_by: str | None = None):
    """The partition's latest materialization of `asset`, leaving out run `not_by`'s own."""
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=asset, asset_partitions=[partition_key]), limit=2
    ).records
    return next((record for record in records if record.run_id != not_by), None)


def run_steps(instance: dg.DagsterInstance, run: dg.DagsterRun) -> frozenset[str] | None:
    """The assets (steps) the run materializes: its asset selection (a backfill's run of a few
    assets of the graph), else its plan's steps; None when neither is on record (every step of
    its job)."""
    if run.asset_selection:
        return frozenset(key.to_user_string() for key in run.asset_selection)
    if run.execution_plan_snapshot_id:
        plan = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
        if plan is not None and plan.step_keys_to_execute:
            return frozenset(plan.step_keys_to_execute)
    return None


def drafting_runs(instance: dg.DagsterInstance, run: dg.DagsterRun, partition_key: str) -> set[str]:
    """The other runs whose draft spend for `partition_key` belongs to this run's record: every
    draft run of its batch group, or the ranged backfill run that wrote the partition's latest
    draft, once: not to a run that drafts the video itself, not to a retry (its parent counted
    it) and not after a publication of that draft already did."""
    if group_id := run.tags.get(BATCH_GROUP_TAG):
        return {r.run_id for r in instance.get_runs(filters=dg.RunsFilter(tags={BATCH_GROUP_TAG: group_id}))}
    steps = run_steps(instance, run)
    if steps is None or DRAFT_STEP in steps or PARENT_RUN_TAG in run.tags:
        return set()
    drafted = _latest_materialization(instance, DRAFT, partition_key)
    if drafted is None or drafted.run_id == run.run_id:
        return set()
    drafted_by = instance.get_run_by_id(drafted.run_id)
    if drafted_by is None or RANGE_START_TAG not in drafted_by.tags:
        return set()
    published = _latest_materialization(instance, PUBLISHED, partition_key, not_by=run.run_id)
    if published is not None and published.timestamp > drafted.timestamp:
        return set()
    return {drafted_by.run_id}


def _materialization_metadata(instance: dg.DagsterInstance, run_id: str, asset: str) -> dict:
    for event in _events(instance, run_id, dg.DagsterEventType.ASSET_MATERIALIZATION):
        if event.asset_key == dg.AssetKey(asset):
            return dict(event.step_materialization_data.materialization.metadata)
    return {}


def _media_duration(instance: dg.DagsterInstance, run_id: str, partition_key: str) -> float | None:
    """From this run's `video`, else the partition's latest (a retry starts after it)."""
    metadata = _materialization_metadata(instance, run_id, "video")
    if not metadata:
        latest = _latest_materialization(instance, VIDEO, partition_key)
        if latest is not None and latest.asset_materialization:
            metadata = dict(latest.asset_materialization.metadata)
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
    instance: dg.DagsterInstance, run: dg.DagsterRun, tracking: TrackingResource, video_of_range: str | None = None
) -> RunRecord:
    """The tracking record of `run` as its own records describe it now; with `video_of_range`,
    the record of that one video of a ranged run (its own id, spend and media)."""
    tracker = tracking.get()
    run_record = instance.get_run_record_by_id(run.run_id)
    partition_key = video_of_range or run.tags.get(PARTITION_TAG, "")
    started = (run_record.start_time if run_record else None) or (
        run_record.create_timestamp.timestamp() if run_record else time.time()
    )
    ended = run_record.end_time if run_record else None
    finished = run.status in (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE,
                              dg.DagsterRunStatus.CANCELED)
    if finished and ended is None:
        ended = time.time()
    if video_of_range:
        input_tokens, output_tokens, cost = draft_spend(
            instance, video_of_range, {run.run_id} | drafting_runs(instance, run, video_of_range)
        )
    else:
        input_tokens, output_tokens, cost = run_spend(instance, run.run_id)
    if partition_key and not video_of_range:
        drafted_input, drafted_output, drafted_cost = draft_spend(
            instance, partition_key, drafting_runs(instance, run, partition_key) - {run.run_id}
        )
        input_tokens, output_tokens = input_tokens + drafted_input, output_tokens + drafted_output
        cost = round(cost + drafted_cost, 6)
    parent_id = run.tags.get(PARENT_RUN_TAG)
    if parent_id and video_of_range:
        parent_id = f"{parent_id}/{video_of_range}"
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
        execution_id=f"{run.run_id}/{video_of_range}" if video_of_range else run.run_id,
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


def range_partitions(instance: dg.DagsterInstance, run: dg.DagsterRun) -> list[str]:
    """Every video between a ranged run's ends, in the dynamic partitions' order."""
    start, end = run.tags.get(RANGE_START_TAG), run.tags.get(RANGE_END_TAG)
    order = instance.get_dynamic_partitions(videos_partitions.name)
    if start in order and end in order:
        return order[order.index(start): order.index(end) + 1]
    return [key for key in dict.fromkeys((start, end)) if key]


def range_failures(instance: dg.DagsterInstance, run: dg.DagsterRun) -> dict[str, str]:
    """Why each video of a failed ranged run has no draft ("step: reason"): the reason the step
    named for it, or, for a video written beside ones that failed, that it was not kept."""
    failure = run_failure(instance, run)
    named: dict[str, str] = {}
    for event in _events(instance, run.run_id, dg.DagsterEventType.STEP_FAILURE):
        data = event.step_failure_data.user_failure_data
        if data is not None and FAILED_PARTITIONS in data.metadata:
            named.update(_metadata_value(data.metadata, FAILED_PARTITIONS))
    reasons = {}
    for key in range_partitions(instance, run):
        if key in named:
            reasons[key] = f"{failure.step}: {' '.join(str(named[key]).split())}"
        elif named:
            reasons[key] = (f"{failure.step}: written, but not kept: the run failed for {len(named)} other "
                            "video(s) of its range; re-executing it from failure writes this one from the reply cache")
        else:
            reasons[key] = f"{failure.step}: {failure.reason}"
    return reasons


def report_video_failed(
    instance: dg.DagsterInstance, run: dg.DagsterRun, partition_key: str, error: str,
    tracking: TrackingResource, notifier: NotifierResource,
) -> RunRecord:
    """The FAILED record ("step: reason" in `error`) and the one notification of one video of
    the ranged run `run`."""
    record = build_record(instance, run, tracking, video_of_range=partition_key).model_copy(
        update={"status": RunStatus.FAILED, "error": error}
    )
    record = tracking.get().put(record)
    report_failed(notifier.get(), record, run_url=notifier.run_url(run.run_id), environment=notifier.environment)
    return record


def report_range_failed(
    instance: dg.DagsterInstance, run: dg.DagsterRun, tracking: TrackingResource, notifier: NotifierResource
) -> list[RunRecord]:
    """One FAILED record and one notification per video of a failed ranged run."""
    return [report_video_failed(instance, run, key, error, tracking, notifier)
            for key, error in range_failures(instance, run).items()]
