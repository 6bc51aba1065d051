"""Evidence: every item of a document names the transcript segments it rests on.

A model writer's items carry `evidence`, a list of segment ids (`segment_id`, "s0412") taken
from the transcript block it was sent. This module decides, without a model, which ids are
valid for an item and what happens to an item with none:

- an id is valid when the transcript has that segment, the segment lies in the stretch the
  item was written from (`allowed`: the ids of the chunk, for an extraction) and it overlaps
  the item's own time range, widened by `tolerance_seconds` (models round times, and one
  answer often comes a little after its question);
- an item with no valid id is dropped and listed with the reason (`DroppedItem`); an item with
  no ids of its own but with evidenced parts (a topic whose key points all name segments)
  rests on its parts' evidence.

It works on any pydantic model tree whose items have an `evidence` field and a time range as
`start`/`end`, `time_range` or `at` (extractions, written sections and the `Document` alike),
so the writer and the `document_evidenced` check apply the same rule.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import BaseModel

from techne_assets.core.quality import Verdict
from techne_assets.core.transcript import Segment, Transcript, format_timestamp, segment_id

DEFAULT_TOLERANCE_SECONDS = 120.0


class DroppedItem(BaseModel):
    """An item the evidence rule removed, and why."""

    where: str = ""
    kind: str
    item: str
    reason: str


Window = tuple[float, float] | None


def item_label(item: BaseModel) -> str:
    """The words that name an item in a list of dropped items."""
    for name in ("title", "question", "term", "text", "command", "key", "description"):
        value = getattr(item, name, None)
        if isinstance(value, str) and value:
            return value[:160]
    return type(item).__name__


def item_window(item: BaseModel, parent: Window) -> Window:
    """The time range an item claims: its own, else the range of the item it belongs to."""
    start, end = getattr(item, "start", None), getattr(item, "end", None)
    if isinstance(start, float | int):
        return float(start), float(end if isinstance(end, float | int) else start)
    time_range = getattr(item, "time_range", None)
    if time_range is not None and hasattr(time_range, "start"):
        return float(time_range.start), float(time_range.end)
    at = getattr(item, "at", None)
    if isinstance(at, float | int):
        return float(at), float(at)
    return parent


def invalid_reason(
    sid: str,
    transcript: Transcript,
    window: Window,
    *,
    allowed: frozenset[str] | None = None,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> str | None:
    """Why `sid` cannot back an item with this time range, or None when it can."""
    segment = transcript.segment_by_id(sid)
    if segment is None:
        return f"{sid} não é um segmento da transcrição"
    if allowed is not None and sid not in allowed:
        return f"{sid} está fora do trecho extraído"
    if window is not None:
        start, end = window
        if segment.end < start - tolerance_seconds or segment.start > end + tolerance_seconds:
            return (
                f"{sid} ({format_timestamp(segment.start)}) está fora do intervalo do item "
                f"({format_timestamp(start)}–{format_timestamp(end)})"
            )
    return None


def _item_lists(model: BaseModel) -> Iterator[tuple[str, list]]:
    """(field name, list) for every list field of `model` whose items carry evidence."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, list) and value and isinstance(value[0], BaseModel):
            if "evidence" in type(value[0]).model_fields:
                yield name, value


def _children_evidence(item: BaseModel) -> list[str]:
    return [sid for _, items in _item_lists(item) for child in items for sid in child.evidence]


def enforce_evidence(
    model: BaseModel,
    transcript: Transcript,
    *,
    where: str = "",
    allowed: frozenset[str] | None = None,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> list[DroppedItem]:
    """Keeps, in place, only the valid evidence of every item of `model` and only the items
    left with some; returns the items dropped, each with its reason."""
    dropped: list[DroppedItem] = []

    def walk(container: BaseModel, parent: Window) -> None:
        for name, items in _item_lists(container):
            kept = []
            for item in items:
                window = item_window(item, parent)
                walk(item, window)
                reasons: list[str] = []
                valid = []
                for sid in dict.fromkeys(item.evidence):
                    reason = invalid_reason(
                        sid, transcript, window, allowed=allowed, tolerance_seconds=tolerance_seconds
                    )
                    if reason is None:
                        valid.append(sid)
                    else:
                        reasons.append(reason)
                if not valid:
                    valid = list(dict.fromkeys(_children_evidence(item)))
                if valid:
                    item.evidence = valid
                    kept.append(item)
                else:
                    reason = "; ".join(reasons) if reasons else "nenhum segmento citado como evidência"
                    dropped.append(
                        DroppedItem(where=where, kind=name, item=item_label(item), reason=reason)
                    )
            items[:] = kept

    walk(model, None)
    return dropped


def segment_line(index: int, segment: Segment) -> str:
    """One transcript line with its evidence id, `[s0412 00:41:05 Ana] texto`."""
    speaker = f" {segment.speaker}" if segment.speaker else ""
    text = " ".join(segment.text.split())
    return f"[{segment_id(index)} {format_timestamp(segment.start)}{speaker}] {text}"


def evidence_lines(transcript: Transcript, ids: list[str]) -> list[str]:
    """The transcript lines an item's evidence names, in transcript order."""
    indexed = sorted({int(sid[1:]) for sid in ids if transcript.segment_by_id(sid) is not None})
    return [segment_line(index, transcript.segments[index]) for index in indexed]


def document_evidenced(
    document: BaseModel,
    transcript: Transcript,
    *,
    require_evidence: bool = True,
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS,
) -> Verdict:
    """Every item of the document names segments that exist and lie within its time range.

    With `require_evidence=False` (the offline writer, whose items are transcript sentences
    themselves) an item without ids passes, but an id that is wrong still fails."""
    items = 0
    unevidenced: list[str] = []
    invalid: list[str] = []

    def walk(container: BaseModel, parent: Window) -> None:
        nonlocal items
        for name, values in _item_lists(container):
            for item in values:
                items += 1
                window = item_window(item, parent)
                if not item.evidence and not _children_evidence(item) and require_evidence:
                    unevidenced.append(f"{name}: {item_label(item)}")
                for sid in item.evidence:
                    reason = invalid_reason(sid, transcript, window, tolerance_seconds=tolerance_seconds)
                    if reason:
                        invalid.append(f"{name}: {item_label(item)[:60]}: {reason}")
                walk(item, window)

    walk(document, None)
    passed = not unevidenced and not invalid
    if passed:
        description = f"all {items} items name valid transcript segments as evidence"
    else:
        description = (
            f"{len(unevidenced)} of {items} items name no evidence and {len(invalid)} evidence "
            f"ids are not valid; first: {(unevidenced + invalid)[0]}"
        )
    return Verdict(
        passed=passed,
        description=description,
        metadata={
            "items": items,
            "unevidenced": unevidenced[:20],
            "invalid_evidence": invalid[:20],
        },
    )
