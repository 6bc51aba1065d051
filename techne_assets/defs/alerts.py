"""Run-status and check sensors: tracking records, notifications and log lines follow every run."""

import json

import dagster as dg
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
from dagster._core.storage.tags import PARTITION_NAME_TAG

from techne_assets.adapters.reporting import report_check_failed, report_completed, report_failed
from techne_assets.defs.errors import describe_step_failure
from techne_assets.defs.resources import NotifierResource, TrackingResource
from techne_assets.settings import get_settings

VIDEO_KEY_TAG = "techne/video_key"
LAUNCHED_BY_TAG = "techne/launched_by"  # `techne process` reports its own runs
CHECK_EVENTS_PER_TICK = 200


def _is_ours(run: dg.DagsterRun) -> bool:
    return PARTITION_NAME_TAG in run.tags and run.tags.get(LAUNCHED_BY_TAG) != "cli"


@dg.run_status_sensor(
    run_status=dg.DagsterRunStatus.SUCCESS,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A finished video: tracking record COMPLETED, notification with the document link and cost.",
)
def run_completed_sensor(
    context: dg.RunStatusSensorContext, tracking: TrackingResource, notifier: NotifierResource
) -> None:
    if not _is_ours(context.dagster_run):
        return
    report_completed(
        tracking.get(),
        notifier.get(),
        execution_id=context.dagster_run.run_id,
        run_url=notifier.run_url(context.dagster_run.run_id),
        environment=get_settings().environment,
    )


@dg.run_failure_sensor(
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="A failed run: tracking record FAILED, notification naming the video, step and reason.",
)
def run_failed_sensor(
    context: dg.RunFailureSensorContext, tracking: TrackingResource, notifier: NotifierResource
) -> None:
    run = context.dagster_run
    if not _is_ours(run):
        return
    failures = context.get_step_failure_events()
    if failures:
        step, reason = describe_step_failure(failures[0])
    else:
        step, reason = "run", context.failure_event.message or "the run failed"
    partition_key = run.tags[PARTITION_NAME_TAG]
    report_failed(
        tracking.get(),
        notifier.get(),
        execution_id=run.run_id,
        video_key=run.tags.get(VIDEO_KEY_TAG, partition_key),
        partition_key=partition_key,
        step=step,
        reason=reason,
        run_url=notifier.run_url(run.run_id),
        environment=get_settings().environment,
    )


@dg.sensor(
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Every failed asset check, blocking or not, notifies once (cursor: the last "
    "execution seen per check).",
)
def check_failed_sensor(context: dg.SensorEvaluationContext, notifier: NotifierResource) -> dg.SensorResult:
    # Per-check execution records work on every event log storage, including the local SQLite
    # one that keeps a database per run (where a global event cursor is not available).
    seen: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
    sent = 0
    for check_key in sorted(context.repository_def.asset_graph.asset_check_keys, key=str):
        name = check_key.to_user_string()
        failures = context.instance.event_log_storage.get_asset_check_execution_history(
            check_key, limit=CHECK_EVENTS_PER_TICK, status={AssetCheckExecutionRecordStatus.FAILED}
        )
        for record in sorted((r for r in failures if r.id > seen.get(name, 0)), key=lambda r: r.id):
            seen[name] = record.id
            run = context.instance.get_run_by_id(record.run_id)
            if record.event is None or run is None or not _is_ours(run):
                continue
            evaluation = record.event.dagster_event.event_specific_data
            partition_key = run.tags[PARTITION_NAME_TAG]
            report_check_failed(
                notifier.get(),
                execution_id=record.run_id,
                video_key=run.tags.get(VIDEO_KEY_TAG, partition_key),
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
