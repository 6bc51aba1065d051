"""Which stored video a partition key stands for.

Partition keys are the storage key itself when that is a valid key, so most resolve directly;
slugged keys (with a hash suffix) are looked up in a small registry written when the partition
is added, and, failing that, by listing the input.
"""

from __future__ import annotations

import hashlib
import json

from techne_assets.adapters.storage import Storage
from techne_assets.core.errors import InputError
from techne_assets.core.partition_keys import partition_key_for

REGISTRY_PREFIX = "registry/videos"


def _entry_key(partition_key: str) -> str:
    return f"{REGISTRY_PREFIX}/{hashlib.sha256(partition_key.encode('utf-8')).hexdigest()}.json"


def register_video(work: Storage, storage_key: str) -> str:
    """Records the storage key of a partition; returns the partition key."""
    partition_key = partition_key_for(storage_key)
    if partition_key != storage_key:
        body = json.dumps({"partition_key": partition_key, "storage_key": storage_key})
        work.write_bytes(_entry_key(partition_key), body.encode("utf-8"), "application/json")
    return partition_key


def resolve_video(work: Storage, input_storage: Storage, partition_key: str) -> str:
    """The storage key of the video behind `partition_key`."""
    if partition_key_for(partition_key) == partition_key and input_storage.exists(partition_key):
        return partition_key
    entry = _entry_key(partition_key)
    if work.exists(entry):
        return json.loads(work.read_bytes(entry))["storage_key"]
    for obj in input_storage.list_objects():
        if partition_key_for(obj.key) == partition_key:
            return obj.key
    raise InputError(
        input_storage.uri(partition_key),
        f"no video in the input for partition {partition_key!r} (was it removed or renamed?)",
    )
