"""Which stored objects a sensor tick should turn into runs, and the cursor it leaves behind.

The cursor is a high-water mark of last-modified times plus the (key, etag) pairs seen within a
safety window below it: an object written while a tick was listing (with a last-modified a little
older than objects already seen) is still picked up next tick, and an object seen once is not
requested twice. Run keys (partition + etag) make Dagster itself drop a repeated request, so
the same content uploaded again never runs again while new content under the same key does.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import BaseModel, Field

SAFETY_WINDOW = timedelta(minutes=15)


class InboxObject(BaseModel):
    key: str
    size: int
    etag: str
    last_modified: datetime


class InboxCursor(BaseModel):
    high_water_mark: datetime | None = None
    recent: dict[str, str] = Field(default_factory=dict, description="key → etag seen near the mark")
    recent_times: dict[str, datetime] = Field(default_factory=dict)
    pending_sizes: dict[str, int] = Field(
        default_factory=dict, description="local files seen last tick, not yet stable in size"
    )


class TickPlan(BaseModel):
    ready: list[InboxObject]
    waiting_for_stable_size: int
    left_for_next_tick: int
    cursor: InboxCursor


def is_video(key: str, extensions: Iterable[str]) -> bool:
    name = key.rsplit("/", 1)[-1]
    if name.startswith("."):
        return False
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    return suffix in {ext.lower().lstrip(".") for ext in extensions}


def plan_tick(
    objects: Iterable[InboxObject],
    cursor: InboxCursor,
    *,
    extensions: Iterable[str],
    max_runs: int,
    require_stable_size: bool,
) -> TickPlan:
    mark = cursor.high_water_mark
    floor = mark - SAFETY_WINDOW if mark else None
    candidates: list[InboxObject] = []
    for obj in objects:
        if not is_video(obj.key, extensions) or obj.size == 0:
            continue
        if floor is not None and obj.last_modified < floor:
            continue
        if cursor.recent.get(obj.key) == obj.etag:
            continue
        candidates.append(obj)
    candidates.sort(key=lambda o: (o.last_modified, o.key))

    pending: dict[str, int] = {}
    ready: list[InboxObject] = []
    for obj in candidates:
        if require_stable_size and cursor.pending_sizes.get(obj.key) != obj.size:
            pending[obj.key] = obj.size
            continue
        ready.append(obj)
    taken, left = ready[:max_runs], ready[max_runs:]

    recent = dict(cursor.recent)
    recent_times = dict(cursor.recent_times)
    for obj in taken:
        recent[obj.key] = obj.etag
        recent_times[obj.key] = obj.last_modified
    # The mark only passes objects that were taken, so what is left over or still being copied
    # stays above the floor for the next tick.
    held_back = [o.last_modified for o in left] + [
        o.last_modified for o in candidates if o.key in pending
    ]
    marks = ([mark] if mark else []) + [o.last_modified for o in taken]
    new_mark = max(marks) if marks else None
    if held_back and new_mark is not None:
        # Never pass an object held back, never move the mark backwards.
        capped = min(new_mark, min(held_back))
        new_mark = max(capped, mark) if mark else capped
    if new_mark is not None:
        keep_after = new_mark - SAFETY_WINDOW
        recent_times = {k: t for k, t in recent_times.items() if t >= keep_after}
        recent = {k: v for k, v in recent.items() if k in recent_times}
    return TickPlan(
        ready=taken,
        waiting_for_stable_size=len(pending),
        left_for_next_tick=len(left),
        cursor=InboxCursor(
            high_water_mark=new_mark,
            recent=recent,
            recent_times=recent_times,
            # Left-over videos were already stable; remembering their sizes keeps them ready.
            pending_sizes=pending | {o.key: o.size for o in left},
        ),
    )
