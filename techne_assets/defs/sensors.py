"""Sensors: new videos in the input become partitions and runs.

Each video is requested once per content (run keys are `partition@etag`). A video whose content
is already materialized (by `techne process` or a backfill), whose partition has a run queued or
in progress, whose partition an active backfill targets, or which is in an open batch group is
skipped (and remembered as handled), so the sensor and the backfill never both run it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import dagster as dg

from techne_assets.adapters.batch_ledger import BatchGroup, BatchLedger
from techne_assets.adapters.inbox_events import receive_s3_events
from techne_assets.adapters.storage import Storage, storage_from_uri
from techne_assets.core.inbox import (
    InboxCursor,
    InboxObject,
    SeenSet,
    checksum,
    finish_tick,
    is_video,
    plan_tick,
)
from techne_assets.core.partition_keys import VIDEO_KEY_TAG
from techne_assets.defs.jobs import process_video_job
from techne_assets.defs.partitions import videos_partitions
from techne_assets.defs.video_status import (
    busy_partitions,
    materialized_with_same_content,
    video_partition,
)
from techne_assets.settings import Settings, get_settings

SEEN_SET_PREFIX = "sensors/inbox_sensor"
# Videos examined against the instance per tick, per run requested: bounds the tick's queries
# when many listed videos turn out to be handled already.
CHECKS_PER_RUN = 4


def _seen_key(slot: str) -> str:
    return f"{SEEN_SET_PREFIX}/seen-{slot}.bin"


def load_seen(work: Storage, cursor: InboxCursor, log) -> SeenSet:
    if cursor.seen_slot is None:
        return SeenSet()
    key = _seen_key(cursor.seen_slot)
    data = work.read_bytes(key) if work.exists(key) else b""
    if checksum(data) != cursor.seen_checksum:
        # Lost or replaced by hand: start over; the materialization check keeps done videos done.
        log.warning(f"{work.uri(key)} does not match the sensor cursor; rebuilding the seen set")
        return SeenSet()
    return SeenSet.from_bytes(data)


def store_seen(work: Storage, cursor: InboxCursor, seen: SeenSet, previous: SeenSet) -> InboxCursor:
    """Writes the other slot only when the set changed; the returned cursor points at it."""
    if seen == previous and cursor.seen_slot is not None:
        return cursor
    slot = cursor.next_slot()
    data = seen.to_bytes()
    work.write_bytes(_seen_key(slot), data, "application/octet-stream")
    return cursor.model_copy(
        update={"seen_slot": slot, "seen_checksum": checksum(data), "seen_count": len(seen)}
    )


def _run_request(obj: InboxObject, partition_key: str, reference: str) -> dg.RunRequest:
    return dg.RunRequest(
        # Same key and content → same run key → Dagster never runs it twice.
        run_key=f"{partition_key}@{obj.etag}",
        partition_key=partition_key,
        tags={VIDEO_KEY_TAG: reference, "techne/etag": obj.etag},
    )


def _open_batch_groups(settings: Settings) -> list[BatchGroup]:
    region = settings.aws_region
    ledger = BatchLedger(storage_from_uri(settings.store_uri, region), storage_from_uri(settings.scratch_uri, region))
    return ledger.open_groups()


def _select(
    context: dg.SensorEvaluationContext,
    settings: Settings,
    inputs: Storage,
    candidates: list[InboxObject],
) -> tuple[list[dg.RunRequest], list[InboxObject], list[str]]:
    """Run requests for at most `sensor_max_runs_per_tick` candidates; the candidates handled
    (requested or skipped for good) and one line per skip."""
    limit = settings.sensor_max_runs_per_tick
    busy = busy_partitions(context.instance, _open_batch_groups(settings)) if candidates else {}
    requests, handled, skipped = [], [], []
    for obj in candidates[: limit * CHECKS_PER_RUN]:
        if len(requests) >= limit:
            break
        partition_key, reference = video_partition(obj.key, inputs.root_uri)
        if partition_key in busy:
            skipped.append(f"{obj.key}: {busy[partition_key]}")
        elif materialized_with_same_content(context.instance, inputs, partition_key, obj):
            skipped.append(f"{obj.key}: already materialized with this content")
        else:
            requests.append(_run_request(obj, partition_key, reference))
        handled.append(obj)
    for line in skipped:
        context.log.info(f"skipped {line}")
    return requests, handled, skipped


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
    inputs = storage_from_uri(settings.input_uri, settings.aws_region)
    work = storage_from_uri(settings.store_uri, settings.aws_region)
    cursor = InboxCursor.model_validate_json(context.cursor) if context.cursor else InboxCursor()
    seen = load_seen(work, cursor, context.log)
    now = datetime.now(UTC)
    plan = plan_tick(
        (
            InboxObject(key=o.key, size=o.size, etag=o.etag, last_modified=o.last_modified)
            for o in inputs.list_objects()
        ),
        seen,
        cursor.pending_sizes,
        extensions=settings.video_extensions,
        now=now,
        require_stable_size=not settings.input_uri.startswith("s3://"),
    )
    requests, handled, skipped = _select(context, settings, inputs, plan.ready)
    outcome = finish_tick(plan, handled, now=now)
    next_cursor = store_seen(work, cursor, outcome.seen, seen).model_copy(
        update={"pending_sizes": outcome.pending_sizes}
    )
    reasons = [f"skipped {line}" for line in skipped]
    if plan.waiting_for_stable_size:
        reasons.append(f"{len(plan.waiting_for_stable_size)} video(s) still being copied (size not yet stable)")
    if outcome.left_for_next_tick:
        context.log.info(f"{outcome.left_for_next_tick} new video(s) left for the next ticks")
    idle = "; ".join(reasons) or f"no new or changed video in {inputs.root_uri}"
    return _result(context, requests, next_cursor.model_dump_json(), idle)


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
    batch = receive_s3_events(
        settings.sqs_queue_url, max_events=settings.sensor_max_runs_per_tick, region=settings.aws_region
    )
    for rejected in batch.rejected:
        context.log.warning(f"S3 event message {rejected.message_id} dropped: {rejected.reason}")
    objects = [
        InboxObject(key=e.key.removeprefix(prefix), size=e.size, etag=e.etag, last_modified=e.event_time)
        for e in batch.events
        if e.key.startswith(prefix) and is_video(e.key, settings.video_extensions)
    ]
    requests, _, _ = _select(context, settings, storage_from_uri(settings.input_uri, settings.aws_region), objects)
    cursor = json.dumps({"last_batch": len(batch.events), "rejected": len(batch.rejected)})
    return _result(context, requests, cursor, "no S3 events for new videos")
