"""What the staged writer computes between model calls, without a model.

- which transcript segments each chunk holds (its lines and the evidence ids it may cite);
- the compact call-wide context every request shares;
- the outline's listed entries (questions, action items, references, terms) from the extractions;
- each section group's request: its entries, the extracted details and the evidence lines;
- the typing of procedure content after the model answers (warnings and injected speech out of
  the steps, a caution on destructive commands);
- coverage: every outline entry is in the document or listed as dropped with a reason.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from pydantic import BaseModel, Field

from techne_assets.core.chunking import Chunk
from techne_assets.core.evidence import DroppedItem, evidence_lines, item_label
from techne_assets.core.instruction_types import (
    caution_for,
    classify_instruction,
    is_instruction_injection,
)
from techne_assets.core.transcript import Transcript, format_timestamp, segment_id
from techne_assets.core.writing.base import Coverage, CoverageGap
from techne_assets.core.writing.extraction import (
    ChunkExtraction,
    EvidencedText,
    Outline,
    parse_timestamp,
)
from techne_assets.core.writing.sections import WrittenSections
from techne_assets.core.writing.sources import without_empty

# Lists of the extractions the writer copies into the outline itself, with their id prefix and
# the field whose normalized text identifies a duplicate.
LISTED_KINDS: dict[str, tuple[str, str]] = {
    "questions": ("Q", "question"),
    "action_items": ("A", "text"),
    "references": ("R", "text"),
    "terms": ("G", "term"),
}
# Extracted details each section group gets besides its outline entries.
GROUP_NOTES: dict[str, tuple[str, ...]] = {
    "summary_topics": ("topics",),
    "procedures": ("procedures", "commands", "configurations"),
    "troubleshooting": ("problems", "risks"),
    "reference": (),
}
# The extracted kinds that become numbered notes (sources.py).
NOTE_KINDS = tuple(dict.fromkeys(kind for kinds in GROUP_NOTES.values() for kind in kinds))
EVIDENCE_LINES_PER_ENTRY = 2
CONTEXT_TERMS = 40
CHUNK_TERMS = 8
# A word that looks technical by its shape: a digit, an inner symbol, or inner capitals.
_TECHNICAL_WORD = re.compile(r"^(?=.*[A-Za-z])(?:.*\d.*|.*[./_\-:=].*[A-Za-z0-9].*|[A-Z]{2,}\w*|[a-z]+[A-Z]\w*)$")


def chunk_segment_indices(transcript: Transcript, chunks: list[Chunk]) -> list[range]:
    """The transcript segments each chunk holds new, by start time (the chunker may split a
    long segment; the whole segment belongs to the chunk where it starts)."""
    starts = [chunk.new_segments[0].start for chunk in chunks]
    ranges: list[range] = []
    index = 0
    for number in range(len(chunks)):
        first = index
        limit = starts[number + 1] if number + 1 < len(chunks) else float("inf")
        while index < len(transcript.segments) and transcript.segments[index].start < limit:
            index += 1
        ranges.append(range(first, index))
    return ranges


def allowed_ids(indices: range, tolerance_segments: int = 2) -> frozenset[str]:
    """The ids an extraction of these segments may cite: its own and a few on each side."""
    low = max(0, indices.start - tolerance_segments)
    return frozenset(segment_id(i) for i in range(low, indices.stop + tolerance_segments))


def technical_terms(text: str, limit: int) -> list[str]:
    words = (word.strip(".,;:!?()[]{}\"'«»") for word in text.split())
    counts = Counter(word for word in words if len(word) > 2 and _TECHNICAL_WORD.match(word))
    return [word for word, _ in counts.most_common(limit)]


def chunk_outline(transcript: Transcript, ranges: list[range]) -> list[str]:
    """One line per chunk: its number, time range, speakers and technical terms."""
    lines = []
    for number, indices in enumerate(ranges, 1):
        segments = [transcript.segments[i] for i in indices]
        if not segments:
            continue
        speakers = ", ".join(dict.fromkeys(s.speaker for s in segments if s.speaker)) or "?"
        terms = ", ".join(technical_terms(" ".join(s.text for s in segments), CHUNK_TERMS))
        lines.append(
            f"c{number:02d} {format_timestamp(segments[0].start)}–"
            f"{format_timestamp(max(s.end for s in segments))}: {speakers}; {terms or '-'}"
        )
    return lines


def _key(text: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", text.lower()).split())


def listed_entries(extractions: list[ChunkExtraction]) -> dict[str, list[dict[str, Any]]]:
    """Questions, action items, references and terms of every chunk, without duplicates, with
    ids (Q1, A1, R1, G1…) and the evidence of every occurrence."""
    listed: dict[str, list[dict[str, Any]]] = {}
    for kind, (prefix, field) in LISTED_KINDS.items():
        by_key: dict[str, dict[str, Any]] = {}
        for extraction in extractions:
            for item in getattr(extraction, kind):
                key = _key(getattr(item, field))
                if key in by_key:
                    by_key[key]["evidence"] = list(dict.fromkeys([*by_key[key]["evidence"], *item.evidence]))
                elif key:
                    by_key[key] = item.model_dump(mode="json")
        listed[kind] = [{"id": f"{prefix}{n}", **entry} for n, entry in enumerate(by_key.values(), 1)]
    return listed


# What the merge needs of each note to deduplicate and order it (it answers with note ids).
MERGE_FIELDS = ("id", "title", "start", "end", "root_cause")
MERGED_NOTE_KINDS = ("topics", "procedures", "problems")


def merge_view(notes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The notes the merge joins, with only what it needs (their details reach the section
    groups directly)."""
    return [
        {"tipo": note["tipo"], **{k: note[k] for k in MERGE_FIELDS if note.get(k)}}
        for note in notes
        if note["tipo"] in MERGED_NOTE_KINDS
    ]


class GroupRequest(BaseModel):
    """What one section-group call (or one part of a split group) is asked to cover."""

    group: str
    part: int = 1
    parts: int = 1
    entries: list[dict[str, Any]]
    counts: dict[str, int]
    notes: list[dict[str, Any]]
    evidence: list[str] = Field(description="the transcript lines the entries' evidence names")

    @property
    def stage(self) -> str:
        return f"write:{self.group}" + (f":{self.part}" if self.parts > 1 else "")


def _overlaps(item: dict[str, Any], low: float, high: float) -> bool:
    start = item.get("start") or item.get("at")
    if start is None:
        return True
    end = item.get("end") or start
    return parse_timestamp(end) >= low and parse_timestamp(start) <= high


def group_requests(
    group: str,
    kinds: tuple[str, ...],
    outline: Outline,
    listed: dict[str, list[dict[str, Any]]],
    notes: list[dict[str, Any]],
    transcript: Transcript,
    parts: int,
) -> list[GroupRequest]:
    """The group's entries split into `parts` consecutive parts, each with its notes and lines."""
    entries: list[tuple[str, dict[str, Any]]] = []
    for kind in kinds:
        if kind in listed:
            entries += [(kind, entry) for entry in listed[kind]]
        else:
            entries += [(kind, entry.model_dump(mode="json")) for entry in getattr(outline, kind)]
    notes_all = [note for note in notes if note["tipo"] in GROUP_NOTES[group]]
    size = -(-len(entries) // parts) if entries else 0
    requests = []
    for part in range(parts):
        chosen = entries[part * size : (part + 1) * size] if size else []
        if part and not chosen:
            break
        if parts > 1 and chosen:
            times = [parse_timestamp(e.get("start") or e.get("at") or "00:00:00") for _, e in chosen]
            ends = [parse_timestamp(e.get("end") or e.get("start") or e.get("at") or "00:00:00") for _, e in chosen]
            notes = [note for note in notes_all if _overlaps(note, min(times), max(ends))]
        else:
            notes = notes_all
        # A few lines each entry rests on, for what the model writes itself (descriptions,
        # objectives); the notes bring their own details and evidence ids.
        ids = [sid for _, entry in chosen for sid in entry.get("evidence", [])[:EVIDENCE_LINES_PER_ENTRY]]
        requests.append(
            GroupRequest(
                group=group,
                part=part + 1,
                parts=parts,
                entries=[without_empty(entry) for _, entry in chosen],
                counts=dict(Counter(kind for kind, _ in chosen)),
                notes=notes,
                evidence=evidence_lines(transcript, ids),
            )
        )
    return requests


def type_procedure_content(sections: WrittenSections) -> list[DroppedItem]:
    """Moves what is not a step out of the steps, in place: warnings and negated instructions
    become procedure warnings; speech that tries to instruct the writer is dropped and listed;
    a real step with a destructive command gets a caution.

    A step the classifier calls narration stays a step: the model was told to write actions in
    the imperative, and a cue list misses imperatives ("Limpe…") more often than the model
    writes a story as a step; dropping it would lose a real step."""
    dropped: list[DroppedItem] = []
    for procedure in sections.procedures:
        steps = []
        for step in procedure.steps:
            if is_instruction_injection(step.text):
                dropped.append(DroppedItem(where=procedure.outline_id, kind="steps", item=step.text,
                                           reason="fala que tenta dar ordens ao redator: não é um passo"))
            elif classify_instruction(step.text) == "warning":
                procedure.warnings.append(EvidencedText(text=step.text, evidence=step.evidence))
            else:
                step.caution = caution_for(step.text) or step.caution
                steps.append(step)
        procedure.steps = steps
        warnings = []
        for warning in procedure.warnings:
            if is_instruction_injection(warning.text):
                dropped.append(DroppedItem(where=procedure.outline_id, kind="warnings", item=warning.text,
                                           reason="fala que tenta dar ordens ao redator"))
            else:
                warnings.append(warning)
        procedure.warnings = warnings
    return dropped


def coverage(
    entry_ids: list[str],
    sections: WrittenSections,
    *,
    reasons: dict[str, str],
) -> Coverage:
    """`reasons` maps an entry id to why it went (the model's, the review's, the evidence rule's)."""
    present = sections.covered_ids()
    covered = [entry for entry in entry_ids if entry in present]
    missing = [entry for entry in entry_ids if entry not in present]
    return Coverage(
        entries=len(entry_ids),
        covered=len(covered),
        fraction=round(len(covered) / len(entry_ids), 4) if entry_ids else 1.0,
        dropped=[
            CoverageGap(outline_id=entry, reason=reasons.get(entry, "não escrito pelo modelo"))
            for entry in missing
        ],
    )


def unevidenced_reasons(before: WrittenSections, after: WrittenSections, dropped: list[DroppedItem]) -> dict[str, str]:
    """Entry id → reason, for the entries whose every item the evidence rule dropped."""
    lost = before.covered_ids() - after.covered_ids()
    labels = {item_label(item): item.outline_id for _, _, item in before.item_ids() if hasattr(item, "outline_id")}
    reasons = {}
    for item in dropped:
        entry = labels.get(item.item)
        if entry in lost:
            reasons[entry] = f"sem evidência válida: {item.reason}"
    return reasons
