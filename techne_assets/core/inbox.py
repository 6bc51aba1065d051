"""Which stored objects a sensor tick should turn into runs, and the state it leaves behind.

The sensor remembers every video it has handled as a 64-bit digest of (key, ETag) — the ETag
of a local file is its size and mtime — not as a high-water mark of modification times: `mv`,
`cp -p` and `rsync -t` bring old recordings in with old mtimes, and a mark would skip them.
New content under the same key has a new ETag, hence a new digest, and runs again.

At 100,000 objects the set is 800 KB: too large for a Dagster cursor (stored again with every
tick), so it lives in the work storage (`SeenSet.to_bytes`) and the cursor only names which of
two slots holds the current copy and its checksum. A tick writes the other slot, and the cursor
that points at it commits with the tick's run requests: a tick that dies in between leaves the
old slot current, so nothing is marked seen without its run having been requested.

A local file still being copied grows between ticks; a file whose mtime is recent must keep the
same size over two ticks before it is taken (a `cp -p` resets the mtime only when it is done).
"""

from __future__ import annotations

import hashlib
import sys
from array import array
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field

# A file modified more recently than this may still be being written.
SETTLE_WINDOW = timedelta(minutes=2)
Slot = Literal["a", "b"]


class InboxObject(BaseModel):
    key: str
    size: int
    etag: str
    last_modified: datetime


def object_digest(key: str, etag: str) -> int:
    """64 bits: a collision among 100,000 objects has odds of about 1 in 3.7 billion."""
    data = hashlib.blake2b(f"{key}\0{etag}".encode("utf-8", "surrogatepass"), digest_size=8)
    return int.from_bytes(data.digest(), "big")


class SeenSet:
    """Digests of the (key, ETag) pairs already handled, stored as sorted 8-byte integers."""

    def __init__(self, digests: Iterable[int] = ()):
        self.digests = set(digests)

    def __contains__(self, obj: InboxObject) -> bool:
        return object_digest(obj.key, obj.etag) in self.digests

    def __len__(self) -> int:
        return len(self.digests)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SeenSet) and self.digests == other.digests

    def to_bytes(self) -> bytes:
        packed = array("Q", sorted(self.digests))
        if sys.byteorder == "little":
            packed.byteswap()  # stored big-endian, whatever the machine
        return packed.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> SeenSet:
        if len(data) % 8:
            raise ValueError(f"seen-set data of {len(data)} bytes is not a multiple of 8")
        packed = array("Q")
        packed.frombytes(data)
        if sys.byteorder == "little":
            packed.byteswap()
        return cls(packed)


def checksum(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class InboxCursor(BaseModel):
    seen_slot: Slot | None = Field(default=None, description="work-storage slot of the seen set")
    seen_checksum: str | None = None
    seen_count: int = 0
    pending_sizes: dict[str, int] = Field(
        default_factory=dict, description="recently modified files and their size at the last tick"
    )

    def next_slot(self) -> Slot:
        return "b" if self.seen_slot == "a" else "a"


@dataclass(frozen=True)
class TickPlan:
    """Unseen videos ready to run (oldest first), and what the tick must remember."""

    ready: list[InboxObject]
    waiting_for_stable_size: dict[str, int]
    still_present: SeenSet  # the seen digests of objects still listed


@dataclass(frozen=True)
class TickOutcome:
    seen: SeenSet
    pending_sizes: dict[str, int]
    left_for_next_tick: int


def is_video(key: str, extensions: Iterable[str]) -> bool:
    name = key.rsplit("/", 1)[-1]
    if name.startswith("."):
        return False
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return suffix in {ext.lower().lstrip(".") for ext in extensions}


def _recent(obj: InboxObject, now: datetime) -> bool:
    return now - obj.last_modified < SETTLE_WINDOW


def plan_tick(
    objects: Iterable[InboxObject],
    seen: SeenSet,
    pending_sizes: dict[str, int],
    *,
    extensions: Iterable[str],
    now: datetime,
    require_stable_size: bool,
) -> TickPlan:
    """One pass over the listing: O(objects) time, memory for the unseen ones only."""
    extensions = {ext.lower().lstrip(".") for ext in extensions}
    present: set[int] = set()
    unseen: list[InboxObject] = []
    for obj in objects:
        if obj.size == 0 or not is_video(obj.key, extensions):
            continue
        digest = object_digest(obj.key, obj.etag)
        if digest in seen.digests:
            present.add(digest)
        else:
            unseen.append(obj)
    unseen.sort(key=lambda o: (o.last_modified, o.key))
    ready, waiting = [], {}
    for obj in unseen:
        if require_stable_size and _recent(obj, now) and pending_sizes.get(obj.key) != obj.size:
            waiting[obj.key] = obj.size
        else:
            ready.append(obj)
    return TickPlan(ready=ready, waiting_for_stable_size=waiting, still_present=SeenSet(present))


def finish_tick(plan: TickPlan, handled: Iterable[InboxObject], *, now: datetime) -> TickOutcome:
    """The seen set and pending sizes after the sensor handled (requested or skipped) `handled`.

    Ready videos not handled this tick stay unseen; the recent ones keep their size so they
    need not wait for stability again.
    """
    handled_keys = set()
    seen = SeenSet(plan.still_present.digests)
    for obj in handled:
        seen.digests.add(object_digest(obj.key, obj.etag))
        handled_keys.add((obj.key, obj.etag))
    left = [o for o in plan.ready if (o.key, o.etag) not in handled_keys]
    pending = dict(plan.waiting_for_stable_size)
    pending.update({o.key: o.size for o in left if _recent(o, now)})
    return TickOutcome(seen=seen, pending_sizes=pending, left_for_next_tick=len(left))
