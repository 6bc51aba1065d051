"""Run-status and check sensors: the writers of tracking records and notifications.

Each reads the run's own records through `run_report` (the same function `techne process`
calls on the run it finished, so those runs, tagged as launched by the CLI, are skipped here).
A video's record and COMPLETED notice belong to the run that publishes it: a run that only
transcribes (a backfill's first run of a video, a batch group's transcript runs) or only drafts
is reported when it fails. A failed ranged run (a backfill's `draft` of many videos) reports each
video of its range; a batch group's own draft passes are the batch sensor's to judge.
A failed blocking check stops its run: the run's failure notice names the check, so the check
sensor notifies only the failures that did not stop a run (warnings, non-blocking checks).
"""

import json

import dagster as dg

from techne_assets.adapters.reporting import report_check_failed
from techne_assets.core.partition_keys import reference_for
from techne_assets.defs.resources import NotifierResource, TrackingResource
from techne_assets.defs.run_report import (
    PUBLISH_STEP,
    record_start,
    report_range_failed,
    report_run,
    run_steps,
)
from techne_assets.defs.run_tags import (
    BATCH_GROUP_TAG,
    LAUNCHED_BY_TAG,
    PARTITION_TAG,
    RANGE_START_TAG,
    VIDEO_KEY_TAG,
)

CHECK_EVENTS_PER_TICK = 200


def _is_ours(run: dg.DagsterRun) -> bool:
    return PARTITION_TAG in run.tags and run.tags.get(LAUNCHED_BY_TAG) != "cli"


def _is_ours_ranged(run: dg.DagsterRun) -> bool:
    return (RANGE_START_TAG in run.tags and PARTITION_TAG not in run.tags
            and BATCH_GROUP_TAG not in run.tags and run.tags.get(LAUNCHED_BY_TAG) != "cli")


def _publishes(instance: dg.DagsterInstance, run: dg.DagsterRun) -> bool:
    """Whether the run's success is the video's: it publishes the document (every step of its
    job, or a selection with `published_document`; a batch group's transcript runs have not)."""
    steps = run_steps(instance, run)
    return steps is None or PUBLISH_STEP in steps


def _report_failure(context: dg.RunStatusSensorContext, tracking: TrackingResource,
                    notifier: NotifierResource) -> None:
    if _is_ours(context.dagster_run):
        report_run(context.instance, context.dagster_run, tracking, notifier)
    elif _is_ours_ranged(context.dagster_run):
        report_range_failed(context.instance, context.dagster_run, tracking, notifier)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.STARTED,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A video run started: its tracking record, STARTED.",
)
def run_started_sensor(context: dg.RunStatusSensorContext, tracking: TrackingResource) -> None:
    if _is_ours(context.dagster_run) and _publishes(context.instance, context.dagster_run):
        record_start(context.instance, context.dagster_run, tracking)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A published document: tracking record COMPLETED, notification with the document "
    "link, cost and duration.",
)
def run_completed_sensor(
    context: dg.RunStatusSensorContext, tracking: TrackingResource, notifier: NotifierResource
) -> None:
    if _is_ours(context.dagster_run) and _publishes(context.instance, context.dagster_run):
        report_run(context.instance, context.dagster_run, tracking, notifier)


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A failed run: tracking record FAILED with what it spent, notification naming the "
    "video, the step or blocking check, and the whole reason (each video of a failed ranged run).",
)
def run_failed_sensor(
    context: dg.RunFailureSensorContext, tracking: TrackingResource, notifier: NotifierResource
) -> None:
    _report_failure(context, tracking, notifier)


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.CANCELED,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A terminated run: tracking record FAILED with its reason and what it spent.",
)
def run_canceled_sensor(
    context: dg.RunStatusSensorContext, tracking: TrackingResource, notifier: NotifierResource
) -> None:
    _report_failure(context, tracking, notifier)


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every failed asset check that did not stop its run notifies once (cursor: the "
    "last execution seen per check).",
)
def check_failed_sensor(context: dg.SensorEvaluationContext, notifier: NotifierResource) -> dg.SensorResult:
    # Per-check execution records work on every event log storage, including the local SQLite
    # one that keeps a database per run (where a global event cursor is not available).
    seen: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    sent = 0
    for check_key in sorted(context.repository_def.asset_graph.asset_check_keys, key=str):
        name = check_key.to_user_string()
        executions = context.instance.event_log_storage.get_asset_check_execution_history(
            check_key, limit=CHECK_EVENTS_PER_TICK
        )
        for record in sorted((r for r in executions if r.id > seen.get(name, 0)), key=lambda r: r.id):
            run = context.instance.get_run_by_id(record.run_id)
            evaluated = (
                record.event is not None
                and record.event.dagster_event.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION
            )
            if not evaluated and run is not None and not run.is_finished:
                break  # planned in a running run: this check resumes here next tick
            seen[name] = record.id
            if not evaluated or run is None or not _is_ours(run):
                continue
            evaluation = record.event.dagster_event.event_specific_data
            if evaluation.passed:
                continue
            if evaluation.blocking and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                continue  # the run's failure notice names it
            partition_key = run.tags[PARTITION_TAG]
            report_check_failed(
                notifier.get(),
                execution_id=record.run_id,
                video_key=run.tags.get(VIDEO_KEY_TAG) or reference_for(partition_key) or partition_key,
                check_name=check_key.name,
                asset=check_key.asset_key.to_user_string(),
                severity=evaluation.severity.value,
                description=evaluation.description or "check failed",
                run_url=notifier.run_url(record.run_id),
            )
            sent += 1
    cursor = json.dumps(seen, sort_keys=True)
    if not sent:
        return dg.SensorResult(skip_reason="no new failed check evaluations", cursor=cursor)
    context.log.info(f"{sent} failed check(s) notified")
    return dg.SensorResult(cursor=cursor)
