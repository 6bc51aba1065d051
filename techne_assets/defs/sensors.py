"""Sensors: new videos become partitions and runs; finished runs and failed checks notify."""

import json

import dagster as dg

from techne_assets.adapters.inbox_events import receive_s3_events
from techne_assets.adapters.storage import Storage, storage_from_uri
from techne_assets.adapters.video_registry import register_video
from techne_assets.core.inbox import InboxCursor, InboxObject, is_video, plan_tick
from techne_assets.defs.jobs import process_video_job
from techne_assets.defs.partitions import videos_partitions
from techne_assets.settings import Settings, get_settings


def _already_materialized(
    instance: dg.DagsterInstance, storage: Storage, partition_key: str, obj: InboxObject
) -> bool:
    """The `video` asset already holds this content (from a `techne process` or backfill run, or
    the same local file copied in again: a new mtime, but the same size and SHA-256)."""
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("video"), asset_partitions=[partition_key]), limit=1
    ).records
    materialization = latest[0].asset_materialization if latest else None
    if materialization is None:
        return False
    recorded = {k: v.value for k, v in materialization.metadata.items()}
    if recorded.get("etag") == obj.etag:
        return True
    if recorded.get("size_bytes") != obj.size or storage.root_uri.startswith("s3://"):
        return False
    return storage.stat(obj.key, with_hash=True).content_id == recorded.get("content_id")


def _run_requests(
    context: dg.SensorEvaluationContext, settings: Settings, objects: list[InboxObject]
) -> list[dg.RunRequest]:
    work, inputs = storage_from_uri(settings.work_uri), storage_from_uri(settings.input_uri)
    requests = []
    for obj in objects:
        partition_key = register_video(work, obj.key)
        if _already_materialized(context.instance, inputs, partition_key, obj):
            continue
        requests.append(
            dg.RunRequest(
                # Same key and content → same run key → Dagster never runs it twice.
                run_key=f"{partition_key}@{obj.etag}",
                partition_key=partition_key,
                tags={"techne/video_key": obj.key[:255], "techne/etag": obj.etag},
            )
        )
    return requests


def _result(
    context: dg.SensorEvaluationContext, requests: list[dg.RunRequest], cursor: str, idle_reason: str
) -> dg.SensorResult:
    partition_keys = sorted({r.partition_key for r in requests})
    known = set(context.instance.get_dynamic_partitions(videos_partitions.name)) if partition_keys else set()
    new_keys = [k for k in partition_keys if k not in known]
    return dg.SensorResult(
        run_requests=requests,
        dynamic_partitions_requests=[videos_partitions.build_add_request(new_keys)] if new_keys else [],
        cursor=cursor,
        skip_reason=None if requests else idle_reason,
    )


@dg.sensor(
    job=process_video_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Lists the input (folder or S3 prefix) and starts one run per new or changed video.",
)
def inbox_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    settings = get_settings()
    if settings.sensor_mode != "list":
        return dg.SensorResult(skip_reason=f"TECHNE_SENSOR_MODE={settings.sensor_mode}: s3_events_sensor is in charge")
    storage = storage_from_uri(settings.input_uri)
    cursor = InboxCursor.model_validate_json(context.cursor) if context.cursor else InboxCursor()
    objects = (
        InboxObject(key=o.key, size=o.size, etag=o.etag, last_modified=o.last_modified)
        for o in storage.list_objects()
    )
    plan = plan_tick(
        objects,
        cursor,
        extensions=settings.video_extensions,
        max_runs=settings.sensor_max_runs_per_tick,
        require_stable_size=not settings.input_uri.startswith("s3://"),
    )
    reasons = []
    if plan.waiting_for_stable_size:
        reasons.append(f"{plan.waiting_for_stable_size} video(s) still being copied (size not yet stable)")
    if plan.left_for_next_tick:
        context.log.info(f"{plan.left_for_next_tick} new video(s) left for the next ticks")
    idle = "; ".join(reasons) or f"no new or changed video in {storage.root_uri}"
    return _result(context, _run_requests(context, settings, plan.ready), plan.cursor.model_dump_json(), idle)


@dg.sensor(
    job=process_video_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Consumes S3 event notifications from SQS (TECHNE_SENSOR_MODE=sqs): no bucket listing.",
)
def s3_events_sensor(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    settings = get_settings()
    if settings.sensor_mode != "sqs" or not settings.sqs_queue_url:
        return dg.SensorResult(skip_reason="TECHNE_SENSOR_MODE is not sqs, or TECHNE_SQS_QUEUE_URL is unset")
    bucket_prefix = settings.input_uri.removeprefix("s3://").split("/", 1)
    prefix = bucket_prefix[1] if len(bucket_prefix) > 1 else ""
    events = receive_s3_events(settings.sqs_queue_url, max_events=settings.sensor_max_runs_per_tick)
    objects = [
        InboxObject(key=e.key.removeprefix(prefix), size=e.size, etag=e.etag, last_modified=e.event_time)
        for e in events
        if e.key.startswith(prefix) and is_video(e.key, settings.video_extensions)
    ]
    cursor = json.dumps({"last_batch": len(events)})
    return _result(context, _run_requests(context, settings, objects), cursor, "no S3 events for new videos")
