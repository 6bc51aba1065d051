"""Submits one Dagster backfill for the archive of existing videos.

Videos whose content is already materialized, partitions with a run queued or in progress, and
partitions an active backfill already targets are skipped and listed with the reason, so the backfill and the inbox sensor never
run the same video twice. Planning only reads: `--dry-run` writes nothing anywhere.

`via="batch"` backfills only `video` and `transcript` (tagged `techne/writer_mode=batch`) and
records a batch group under the backfill's id; the batch sensor then writes the drafts with
Bedrock batch jobs, one per writer stage across the group, and publishes each video. When batch
is unavailable (configuration, see `BedrockBatchResource.unavailable_reason`) the plan says why
and the ordinary on-demand backfill is submitted instead.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Literal

import dagster as dg

# No public API submits an asset backfill from a script; these two are what the webserver's
# launchPartitionBackfill mutation uses, and tests/test_backfill.py pins their behaviour.
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id
from pydantic import BaseModel

from techne_assets.adapters.batch_ledger import BatchGroup, BatchLedger
from techne_assets.adapters.storage import storage_from_uri
from techne_assets.core.inbox import InboxObject, is_video
from techne_assets.defs.batch_resource import BedrockBatchResource
from techne_assets.defs.jobs import ARCHIVE_TRANSCRIPT_ASSETS
from techne_assets.defs.partitions import videos_partitions
from techne_assets.defs.run_tags import LAUNCHED_BY_TAG, WRITER_MODE_TAG
from techne_assets.defs.video_status import (
    busy_partitions,
    materialized_partitions,
    materialized_with_same_content,
    video_partition,
)
from techne_assets.settings import Settings


class SkippedVideo(BaseModel):
    key: str
    reason: str


class BackfillPlan(BaseModel):
    backfill_id: str | None
    partition_keys: list[str]
    skipped: list[SkippedVideo] = []
    writer_mode: Literal["on-demand", "batch"] = "on-demand"
    fallback_reason: str | None = None  # why a batch backfill went on-demand


def batch_unavailable_reason(settings: Settings) -> str | None:
    """Why the drafts of a backfill cannot be written through Bedrock batch (None: they can)."""
    if settings.writer != "bedrock":
        return f"the {settings.writer} writer makes no model calls (TECHNE_WRITER=bedrock for batch)"
    return BedrockBatchResource.from_settings(settings).unavailable_reason(settings.bedrock_model_id)


def plan_archive(
    settings: Settings,
    instance: dg.DagsterInstance,
    *,
    prefix: str = "",
    since: datetime | None = None,
) -> BackfillPlan:
    """Partition keys of the stored videos under `prefix` modified at or after `since` that
    still need a run, and the videos skipped with their reason."""
    storage = storage_from_uri(settings.input_uri, settings.aws_region)
    ledger = BatchLedger(
        storage_from_uri(settings.store_uri, settings.aws_region),
        storage_from_uri(settings.scratch_uri, settings.aws_region),
    )
    busy = busy_partitions(instance, ledger.open_groups())
    materialized = materialized_partitions(instance)
    keys: list[str] = []
    skipped: list[SkippedVideo] = []
    for obj in storage.list_objects(prefix):
        if not is_video(obj.key, settings.video_extensions):
            continue
        if obj.size == 0:
            skipped.append(SkippedVideo(key=obj.key, reason="empty file"))
            continue
        if since is not None and obj.last_modified < since:
            continue
        partition_key, _ = video_partition(obj.key, storage.root_uri)
        if partition_key in busy:
            skipped.append(SkippedVideo(key=obj.key, reason=busy[partition_key]))
        elif partition_key in materialized and materialized_with_same_content(
            instance,
            storage,
            partition_key,
            InboxObject(key=obj.key, size=obj.size, etag=obj.etag, last_modified=obj.last_modified),
        ):
            skipped.append(SkippedVideo(key=obj.key, reason="already materialized with this content"))
        else:
            keys.append(partition_key)
    return BackfillPlan(backfill_id=None, partition_keys=keys, skipped=skipped)


def submit_backfill(
    settings: Settings,
    instance: dg.DagsterInstance,
    *,
    prefix: str = "",
    since: datetime | None = None,
    dry_run: bool = False,
    via: Literal["on-demand", "batch"] = "on-demand",
) -> BackfillPlan:
    from techne_assets.definitions import defs as load_defs

    plan = plan_archive(settings, instance, prefix=prefix, since=since)
    if via == "batch":
        reason = batch_unavailable_reason(settings)
        plan = plan.model_copy(
            update={"writer_mode": "on-demand", "fallback_reason": reason} if reason else {"writer_mode": "batch"}
        )
    if dry_run or not plan.partition_keys:
        return plan
    instance.add_dynamic_partitions(videos_partitions.name, plan.partition_keys)
    definitions = load_defs()
    backfill_id = make_new_backfill_id()
    tags = {LAUNCHED_BY_TAG: "backfill"}
    selection = [spec.key for spec in definitions.resolve_all_asset_specs()]
    if plan.writer_mode == "batch":
        tags[WRITER_MODE_TAG] = "batch"
        selection = [dg.AssetKey(name) for name in ARCHIVE_TRANSCRIPT_ASSETS]
        # Recorded before the backfill exists, so the sensor never takes it for a UI-launched one.
        BedrockBatchResource.from_settings(settings).ledger().create_group(BatchGroup(
            group_id=backfill_id,
            partition_keys=plan.partition_keys,
            model_id=settings.bedrock_model_id,
            created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        ))
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=backfill_id,
        asset_graph=definitions.resolve_asset_graph(),
        partition_names=plan.partition_keys,
        asset_selection=selection,
        backfill_timestamp=time.time(),
        tags=tags,
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=f"Archive backfill{' through batch' if plan.writer_mode == 'batch' else ''}: "
        f"{len(plan.partition_keys)} videos",
        description=f"prefix={prefix or '(all)'} since={since.isoformat() if since else '(any time)'}",
        run_config=None,
    )
    instance.add_backfill(backfill)
    return plan.model_copy(update={"backfill_id": backfill.backfill_id})
