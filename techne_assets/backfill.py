"""Registers the archive of existing videos as partitions and submits one Dagster backfill for them."""

from __future__ import annotations

import time
from datetime import datetime

import dagster as dg
from dagster._core.execution.backfill import PartitionBackfill
from dagster._core.utils import make_new_backfill_id
from pydantic import BaseModel

from techne_assets.adapters.storage import storage_from_uri
from techne_assets.adapters.video_registry import register_video
from techne_assets.core.inbox import is_video
from techne_assets.defs.partitions import videos_partitions
from techne_assets.settings import Settings


class BackfillPlan(BaseModel):
    backfill_id: str | None
    partition_keys: list[str]


def plan_archive(settings: Settings, *, prefix: str = "", since: datetime | None = None) -> list[str]:
    """Partition keys of the stored videos under `prefix` modified at or after `since`."""
    storage = storage_from_uri(settings.input_uri)
    work = storage_from_uri(settings.work_uri)
    keys = []
    for obj in storage.list_objects(prefix):
        if not is_video(obj.key, settings.video_extensions) or obj.size == 0:
            continue
        if since is not None and obj.last_modified < since:
            continue
        keys.append(register_video(work, obj.key))
    return keys


def submit_backfill(
    settings: Settings,
    instance: dg.DagsterInstance,
    *,
    prefix: str = "",
    since: datetime | None = None,
    dry_run: bool = False,
) -> BackfillPlan:
    from techne_assets.definitions import defs as load_defs

    partition_keys = plan_archive(settings, prefix=prefix, since=since)
    if dry_run or not partition_keys:
        return BackfillPlan(backfill_id=None, partition_keys=partition_keys)
    instance.add_dynamic_partitions(videos_partitions.name, partition_keys)
    definitions = load_defs()
    asset_graph = definitions.resolve_asset_graph()
    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id=make_new_backfill_id(),
        asset_graph=asset_graph,
        partition_names=partition_keys,
        asset_selection=[spec.key for spec in definitions.resolve_all_asset_specs()],
        backfill_timestamp=time.time(),
        tags={"techne/launched_by": "backfill"},
        dynamic_partitions_store=instance,
        all_partitions=False,
        title=f"Archive backfill: {len(partition_keys)} videos",
        description=f"prefix={prefix or '(all)'} since={since.isoformat() if since else '(any time)'}",
        run_config=None,
    )
    instance.add_backfill(backfill)
    return BackfillPlan(backfill_id=backfill.backfill_id, partition_keys=partition_keys)
