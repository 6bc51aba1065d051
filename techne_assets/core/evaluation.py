"""Document quality metrics against a hand-written gold set.

A gold call is a transcript plus the points a good document must cover (each with the exact
strings that show it is covered), the commands and the URLs said in the call. For one rendered
document the metrics are: section completeness, key-point coverage (strict: every
`must_include` string occurs; soft: share of the point's words), optionally embedding
similarity, grounding precision of the technical spans, recall of the gold commands and URLs,
timestamp validity, length and cost, and the defects a trainer would fix
(`core/document_defects.py`: duplicate titles, glossary entries without a definition, Q&A
answered by the asker, action items that are not commitments, steps that are warnings).
Everything here is a pure function of its inputs.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable, Sequence
from statistics import mean
from typing import Literal, get_args

from pydantic import BaseModel, Field

from techne_assets.core.document import EMPTY_SECTION, SECTION_HEADINGS
from techne_assets.core.document_defects import DocumentDefects, find_defects
from techne_assets.core.grounding import check_grounding, checked_body
from techne_assets.core.quality import document_sections, document_timestamps_valid
from techne_assets.core.text_rules import content_words, stem, words
from techne_assets.core.transcript import Transcript
from techne_assets.core.writing.base import Draft

# The eight written sections, named as the `Document` fields that fill them.
SectionId = Literal[
    "executive_summary",
    "topics",
    "procedures",
    "troubleshooting",
    "questions",
    "action_items",
    "references",
    "glossary",
]
SECTION_IDS: tuple[str, ...] = get_args(SectionId)
SECTION_HEADING_BY_ID: dict[str, str] = dict(zip(SECTION_IDS, SECTION_HEADINGS[:-1], strict=True))

# Texts in, one vector per text out (any sentence-embedding model).
Embedder = Callable[[list[str]], list[list[float]]]

# Markdown the renderer adds around speech, which must not hide a phrase from matching.
_MARKDOWN_NOISE_RE = re.compile(r"\\(?=[\\`*\[\]<])|`|\*\*")
_PASSAGE_MARKER_RE = re.compile(r"^\s*(?:[-*]\s+(?:\[[ x]\]\s+)?|\d+\.\s+|#+\s+|>\s+)")
_MIN_PASSAGE_WORDS = 4


class GoldKeyPoint(BaseModel):
    id: str
    text: str = Field(description="the point, as a reader of the document should learn it")
    section: SectionId = Field(description="the section where the point belongs")
    must_include: list[str] = Field(
        min_length=1,
        description="exact technical strings or key words a document covering the point contains",
    )


class GoldCall(BaseModel):
    title: str
    domain: str
    duration_minutes: float = Field(gt=0)
    key_points: list[GoldKeyPoint] = Field(min_length=1)
    commands: list[str] = Field(
        default_factory=list, description="commands said in the call, verbatim"
    )
    urls: list[str] = Field(default_factory=list, description="URLs said in the call, verbatim")


class EvaluationRow(BaseModel):
    """The metrics of one writer's document for one gold call."""

    call: str
    writer: str
    section_completeness: float = Field(description="share of the 9 sections present with content")
    empty_sections: list[str] = Field(
        default_factory=list, description="headings missing or without content"
    )
    key_point_coverage: float = Field(
        description="share of key points whose must_include strings all occur"
    )
    key_point_overlap: float = Field(
        description="mean share of each key point's words found in the body"
    )
    embedding_similarity: float | None = Field(
        default=None,
        description="mean best cosine between a key point and a passage; None without a model",
    )
    missed_key_points: list[str] = Field(default_factory=list)
    grounding_precision: float
    unsupported_spans: list[str] = Field(default_factory=list)
    command_recall: float | None = Field(
        default=None, description="None when the call has no gold commands"
    )
    url_recall: float | None = Field(
        default=None, description="None when the call has no gold URLs"
    )
    timestamps_valid: bool
    timestamps: int
    body_words: int = Field(description="words in sections 1-8 (no header, no appendix)")
    cost_usd: float
    input_tokens: int
    output_tokens: int
    seconds: float = Field(default=0.0, description="time the writer took")
    defects: DocumentDefects = Field(
        default_factory=DocumentDefects, description="the offending items, by kind of defect"
    )


def normalize(text: str) -> str:
    """Lowercase, without accents, Markdown code and emphasis marks, escapes, or extra spacing."""
    text = _MARKDOWN_NOISE_RE.sub("", text)
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(text.split())


def contains_phrase(normalized_text: str, phrase: str) -> bool:
    """Whether `phrase` occurs in an already normalized text, not as part of a longer word."""
    needle = normalize(phrase)
    if not needle:
        return True
    before = r"(?<!\w)" if re.match(r"\w", needle) else ""
    after = r"(?!\w)" if re.search(r"\w$", needle) else ""
    return re.search(before + re.escape(needle) + after, normalized_text) is not None


def _section_bodies(markdown: str) -> dict[str, str]:
    """Heading → text up to the next heading of the format, for the headings present."""
    lines = markdown.splitlines()
    starts = sorted(
        (i, line.strip()) for i, line in enumerate(lines) if line.strip() in SECTION_HEADINGS
    )
    bodies: dict[str, str] = {}
    for (index, heading), following in zip(starts, [*starts[1:], (len(lines), "")], strict=True):
        bodies.setdefault(heading, "\n".join(lines[index + 1 : following[0]]).strip())
    return bodies


def section_completeness(markdown: str) -> tuple[float, list[str]]:
    """(share of the sections present with content, the headings missing or empty).

    A section that only says the renderer's "nothing identified" sentence counts as empty.
    """
    missing = set(document_sections(markdown).metadata["missing"])
    bodies = _section_bodies(markdown)
    empty = [
        heading
        for heading in SECTION_HEADINGS
        if heading in missing or bodies.get(heading, "") in ("", EMPTY_SECTION)
    ]
    return (len(SECTION_HEADINGS) - len(empty)) / len(SECTION_HEADINGS), empty


def key_point_covered(normalized_body: str, point: GoldKeyPoint) -> bool:
    return all(contains_phrase(normalized_body, needle) for needle in point.must_include)


def _overlap_terms(text: str) -> set[str]:
    """Stems of the words that carry meaning, accents removed; numbers of 2+ digits kept as they are."""
    terms = {normalize(stem(w)) for w in content_words(text)}
    terms |= {w for w in words(text) if w.isdigit() and len(w) > 1}
    return terms


def key_point_overlap(body: str, points: Sequence[GoldKeyPoint]) -> float:
    """Mean, over the key points, of the share of the point's terms that the body uses."""
    body_terms = _overlap_terms(body)
    shares = []
    for point in points:
        terms = _overlap_terms(" ".join([point.text, *point.must_include]))
        shares.append(len(terms & body_terms) / len(terms) if terms else 1.0)
    return mean(shares) if shares else 1.0


def _passages(body: str) -> list[str]:
    passages = []
    for line in body.splitlines():
        text = normalize(_PASSAGE_MARKER_RE.sub("", line))
        if len(text.split()) >= _MIN_PASSAGE_WORDS:
            passages.append(text)
    return passages


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def embedding_similarity(body: str, points: Sequence[GoldKeyPoint], embed: Embedder) -> float:
    """Mean, over the key points, of the best cosine between the point and a passage of the body."""
    passages = _passages(body)
    if not points:
        return 1.0
    if not passages:
        return 0.0
    vectors = embed([normalize(p.text) for p in points] + passages)
    point_vectors, passage_vectors = vectors[: len(points)], vectors[len(points) :]
    return mean(max(_cosine(p, q) for q in passage_vectors) for p in point_vectors)


def recall(normalized_body: str, expected: Sequence[str]) -> float | None:
    """Share of the expected strings found verbatim in the body; None when nothing is expected."""
    if not expected:
        return None
    return sum(contains_phrase(normalized_body, item) for item in expected) / len(expected)


def evaluate_document(
    call: str,
    markdown: str,
    transcript: Transcript,
    gold: GoldCall,
    draft: Draft,
    *,
    media_duration: float,
    embed: Embedder | None = None,
    seconds: float = 0.0,
) -> EvaluationRow:
    """All metrics of one rendered document (`render_markdown` output) for one gold call."""
    body = checked_body(markdown)
    normalized_body = normalize(body)
    completeness, empty = section_completeness(markdown)
    missed = [p.id for p in gold.key_points if not key_point_covered(normalized_body, p)]
    grounding = check_grounding(markdown, transcript)
    timestamps = document_timestamps_valid(markdown, media_duration)
    return EvaluationRow(
        call=call,
        writer=draft.writer,
        section_completeness=completeness,
        empty_sections=empty,
        key_point_coverage=1 - len(missed) / len(gold.key_points),
        key_point_overlap=key_point_overlap(body, gold.key_points),
        embedding_similarity=embedding_similarity(body, gold.key_points, embed) if embed else None,
        missed_key_points=missed,
        grounding_precision=grounding.precision,
        unsupported_spans=[span.text for span in grounding.unsupported],
        command_recall=recall(normalized_body, gold.commands),
        url_recall=recall(normalized_body, gold.urls),
        timestamps_valid=timestamps.passed,
        timestamps=int(timestamps.metadata["timestamps"]),
        body_words=len(body.split()),
        cost_usd=draft.cost_usd,
        input_tokens=draft.input_tokens,
        output_tokens=draft.output_tokens,
        seconds=seconds,
        defects=find_defects(draft.document, draft.document.header.language or transcript.language),
    )


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return mean(present) if present else None


# Table column → `DocumentDefects` field; each cell is the number of offending items.
DEFECT_COLUMNS: dict[str, str] = {
    "dup. titles": "duplicate_titles",
    "undefined terms": "undefined_glossary_terms",
    "self-answered": "same_speaker_answers",
    "non-commitments": "non_commitment_actions",
    "warning steps": "warning_steps",
}


def format_markdown_table(rows: Sequence[EvaluationRow]) -> str:
    """One Markdown table per writer (in order of first appearance), a row per call plus the mean."""
    with_embeddings = any(row.embedding_similarity is not None for row in rows)
    columns = [
        "call",
        "sections",
        "key points",
        "overlap",
        *(["embedding"] if with_embeddings else []),
        "grounding",
        "commands",
        "URLs",
        "timestamps",
        "words",
        "cost US$",
        "seconds",
        *DEFECT_COLUMNS,
    ]

    def cells(
        call: str,
        group: Sequence[EvaluationRow],
        timestamps: str,
        words_: float,
        cost: float,
        seconds: float,
    ) -> list[str]:
        defect_counts = [
            mean(len(getattr(r.defects, field)) for r in group) for field in DEFECT_COLUMNS.values()
        ]
        values = {
            "sections": _mean([r.section_completeness for r in group]),
            "key points": _mean([r.key_point_coverage for r in group]),
            "overlap": _mean([r.key_point_overlap for r in group]),
            "embedding": _mean([r.embedding_similarity for r in group]),
            "grounding": _mean([r.grounding_precision for r in group]),
            "commands": _mean([r.command_recall for r in group]),
            "URLs": _mean([r.url_recall for r in group]),
        }
        ratio_columns = columns[1 : columns.index("timestamps")]
        return [
            call,
            *(_ratio(values[c]) for c in ratio_columns),
            timestamps,
            f"{words_:.0f}",
            f"{cost:.4f}",
            f"{seconds:.1f}",
            *(f"{count:.0f}" if len(group) == 1 else f"{count:.1f}" for count in defect_counts),
        ]

    tables: list[str] = []
    writers = list(dict.fromkeys(row.writer for row in rows))
    for writer in writers:
        group = [row for row in rows if row.writer == writer]
        lines = [
            f"### Writer: {writer}",
            "",
            "| " + " | ".join(columns) + " |",
            "|" + "|".join("---" if c == "call" else "---:" for c in columns) + "|",
        ]
        for row in group:
            stamp = f"ok ({row.timestamps})" if row.timestamps_valid else f"late ({row.timestamps})"
            lines.append(
                "| "
                + " | ".join(
                    cells(row.call, [row], stamp, row.body_words, row.cost_usd, row.seconds)
                )
                + " |"
            )
        valid = sum(row.timestamps_valid for row in group)
        mean_cells = cells(
            "**mean**",
            group,
            f"{valid}/{len(group)} ok",
            mean(r.body_words for r in group),
            mean(r.cost_usd for r in group),
            mean(r.seconds for r in group),
        )
        lines.append("| " + " | ".join(mean_cells) + " |")
        tables.append("\n".join(lines))
    return "\n\n".join(tables) + "\n"


def format_set_tables(results: dict[str, Sequence[EvaluationRow]]) -> str:
    """One `## Set: <name>` part per evaluated set, each with its tables per writer."""
    return "\n".join(
        f"## Set: {name}\n\n{format_markdown_table(rows)}" for name, rows in results.items()
    )
