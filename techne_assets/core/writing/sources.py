"""Written items that reuse extracted notes by id instead of restating them.

The merge and the section groups are sent the extraction notes they draw on, each with a short
id (`N12`; `N12.s3` for the third step of that note). The merge answers each outline entry as
a title and the ids of the notes it joins; its time range and evidence are the notes'. A
section group answers an unchanged step, key point, decision, warning or problem as
`{"source": "N12.s3"}`, and an unchanged listed entry (question, action item, reference,
term) as just its `outline_id`; the model writes only what it changes. Restated extraction
text was most of the merge's and the writing's output tokens, and output is what a call pays
most for, so the rest is filled in here, before validation. A reference to an unknown id fills
nothing: the answer then lacks a required field and gets the usual repair call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from techne_assets.core.writing.extraction import parse_timestamp

# The nested lists of a note that get their own ids, and the letter of each.
NESTED_LISTS = {"key_points": "k", "decisions": "d", "steps": "s", "warnings": "w"}
# Fields of a note or entry that describe it, not the item written from it.
_NOT_COPIED = ("id", "tipo", "sources", "notes")


def numbered_notes(kinds_per_chunk: list[dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """Every extracted item of every chunk as a note `{"id": "N7", "tipo": kind, …}`,
    its nested key points, decisions, steps and warnings numbered `N7.k1`, `N7.s2`…"""
    notes = []
    for kinds in kinds_per_chunk:
        for kind, items in kinds.items():
            for item in items:
                note_id = f"N{len(notes) + 1}"
                note = {"id": note_id, "tipo": kind, **without_empty(item)}
                for field, letter in NESTED_LISTS.items():
                    if isinstance(note.get(field), list):
                        note[field] = [
                            {"id": f"{note_id}.{letter}{number}", **nested}
                            for number, nested in enumerate(note[field], 1)
                        ]
                notes.append(note)
    return notes


def without_empty(value: Any) -> Any:
    """`value` without its null, empty-string and empty-list fields: a prompt pays for every
    token of them and says nothing more."""
    if isinstance(value, dict):
        return {key: without_empty(item) for key, item in value.items() if _given(item)}
    if isinstance(value, list):
        return [without_empty(item) for item in value]
    return value


def sources_by_id(
    notes: list[dict[str, Any]], entries: list[dict[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Note id (and nested id) → the note; outline entry id ("T3", "Q7") → the entry: an
    answer's item that names one gets the rest of its fields from it."""
    sources: dict[str, dict[str, Any]] = {entry["id"]: entry for entry in entries}
    for note in notes:
        sources[note["id"]] = note
        for field in NESTED_LISTS:
            for nested in note.get(field) or []:
                sources[nested["id"]] = nested
    return sources


def _given(value: Any) -> bool:
    return value not in (None, "", [])


def filled(value: Any, sources: dict[str, dict[str, Any]]) -> Any:
    """`value` (a tool input) with every item that names a source (`source`, or an
    `outline_id`) completed from it; the fields the model wrote win."""
    if isinstance(value, list):
        return [filled(item, sources) for item in value]
    if not isinstance(value, dict):
        return value
    value = {key: filled(item, sources) for key, item in value.items()}
    key = value.get("source") or value.get("outline_id")
    base = sources.get(key) if isinstance(key, str) else None
    if base is None:
        return value
    copied = {name: item for name, item in base.items() if name not in _NOT_COPIED}
    return {**copied, **{name: item for name, item in value.items() if _given(item)}}


def outline_filled(
    value: Any, notes: dict[str, dict[str, Any]], segment_time: Callable[[str], float | None]
) -> Any:
    """The merge's answer with each entry's title, start, end and evidence taken from the notes it
    joins (`sources`) when the model left them out; a note without times (a problem may have
    none) is placed by its evidence segments."""
    if not isinstance(value, dict):
        return value
    result = dict(value)
    for kind in ("topics", "procedures", "problems"):
        entries = []
        for entry in value.get(kind) or []:
            if not isinstance(entry, dict):
                entries.append(entry)
                continue
            members = [notes[sid] for sid in entry.get("sources") or [] if sid in notes]
            evidence = list(dict.fromkeys(sid for note in members for sid in _evidence_of(note)))
            times = [segment_time(sid) for sid in evidence]
            starts = [n["start"] for n in members if n.get("start")] or [t for t in times if t is not None]
            ends = [n["end"] for n in members if n.get("end")] or [t for t in times if t is not None]
            derived = {
                "title": members[0].get("title") if members else None,
                "start": min(starts, key=parse_timestamp) if starts else None,
                "end": max(ends, key=parse_timestamp) if ends else None,
                "evidence": evidence,
            }
            entries.append({**{k: v for k, v in derived.items() if _given(v)},
                            **{k: v for k, v in entry.items() if _given(v)}})
        result[kind] = entries
    return result



def _evidence_of(note: dict[str, Any]) -> list[str]:
    """A note's evidence, or its steps' when it names none itself (a procedure may not)."""
    return note.get("evidence") or [sid for step in note.get("steps") or [] for sid in step.get("evidence") or []]
