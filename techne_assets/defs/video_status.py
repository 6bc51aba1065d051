"""What the Dagster instance already knows about a stored video, for the sensors and the backfill:
is this content already materialized, is a run of its partition queued or running, does an
active backfill target it, or is it in an open batch group?"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from techne_assets.adapters.batch_ledger import BatchGroup
from techne_assets.adapters.storage import Storage, StoredObject
from techne_assets.core.inbox import InboxObject
from techne_assets.core.partition_keys import input_video_reference, partition_key_for
from techne_assets.defs.run_tags import PARTITION_TAG

# Backfills are listed newest first; an active one is among the recent ones.
RECENT_BACKFILLS = 200
ACTIVE_RUN_STATUSES = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]


def video_partition(key: str, input_root_uri: str) -> tuple[str, str]:
    """(partition key, video reference) of the object `key` of the input."""
    reference = input_video_reference(key, input_root_uri)
    return partition_key_for(reference), reference


def materialized_partitions(instance: dg.DagsterInstance) -> set[str]:
    """Partitions of `video` materialized at least once: one query, so a listing of the whole
    archive asks about contents only for these."""
    return instance.get_materialized_partitions(dg.AssetKey("video"))


def materialized_with_same_content(
    instance: dg.DagsterInstance,
    storage: Storage,
    partition_key: str,
    obj: InboxObject | StoredObject,
) -> bool:
    """The `video` asset already holds this content: same ETag, or (a local file copied in again:
    a new mtime, the same bytes) the same size and SHA-256."""
    latest = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("video"), asset_partitions=[partition_key]),
        limit=1,
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


def partitions_of_active_backfills(instance: dg.DagsterInstance) -> set[str]:
    """Partition keys that a backfill still in progress (status REQUESTED) will run."""
    targeted: set[str] = set()
    for backfill in instance.get_backfills(limit=RECENT_BACKFILLS):
        if backfill.status.value != "REQUESTED":
            continue
        if backfill.is_asset_backfill and backfill.asset_backfill_data is not None:
            subset = backfill.asset_backfill_data.target_subset
            for asset_key in subset.asset_keys:
                targeted.update(subset.get_partitions_subset(asset_key).get_partition_keys())
        else:
            targeted.update(backfill.partition_names or [])
    return targeted


def partitions_being_run(instance: dg.DagsterInstance) -> set[str]:
    """Partition keys with a run queued or in progress (requested by a sensor, a backfill or
    `techne process`): not yet materialized, but already on their way."""
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=ACTIVE_RUN_STATUSES))
    return {run.tags[PARTITION_TAG] for run in runs if PARTITION_TAG in run.tags}


def busy_partitions(instance: dg.DagsterInstance, batch_groups: Iterable[BatchGroup] = ()) -> dict[str, str]:
    """Partition key → why no new run should be started for it now. `batch_groups` are the open
    batch groups (`BatchLedger.open_groups()`): until a group is done, the batch sensor alone
    writes its videos (its ranged draft runs carry no partition tag to find them by)."""
    busy = {key: "an active backfill already targets it" for key in partitions_of_active_backfills(instance)}
    busy.update({key: "a run of it is queued or in progress" for key in partitions_being_run(instance)})
    for group in batch_groups:
        if group.state != "done":
            busy.update({key: f"in batch group {group.group_id}" for key in group.partition_keys})
    return busy
