"""The staged model writer: extract per chunk → merge → write by section group → review.

1. clean and segment, no model: `chunk_transcript`; each segment gets its id (`s0412`);
2. one extraction call per chunk, all in parallel, each forced to answer through
   `registrar_extracao` → `ChunkExtraction`; items without valid evidence are dropped;
3. one merge call → `Outline` (topics, procedures, problems without duplicates), answered as
   the ids of the extraction notes each entry joins (sources.py); questions, action items,
   references and terms are listed from the extractions without a model;
4. the section groups in parallel (summary + topics, procedures, troubleshooting, Q&A +
   action items + references + glossary), each with an output budget derived from the entries
   it must cover, split into parts when that passes the model's output limit; unchanged notes
   and listed entries are named by id, not restated, and filled in before validation;
5. deterministic rules: evidence (core/evidence.py), typing of procedure content (warnings and
   injected speech are never steps, destructive commands get a caution);
6. one review call that answers with an edit list (review_edits.py), applied without a model;
   then `remove_unsupported` enforces the grounding rule and coverage is counted.

Request shapes (`request_shape`): "compact" sends each extraction its chunk plus a compact
call-wide context (participants, terms, one line per chunk) as the shared prefix, so an
extraction reserves little quota (input + its derived budget × burndown) and at least four
of a 3-hour call fit in a 200K tokens/min window at once; "transcript" sends the whole
transcript as the cached prefix of every call (the first extraction alone, to write the
cache). benchmarks/bench_model_phase.py measures both.

Given the quota (`tokens_per_minute`, `output_burndown`), the chunks follow the extraction plan
(budgets.plan_extraction): waves of extractions that each fit one window, run a wave at a time;
without it, chunks are cut at `chunk_max_tokens`, all extractions at once.

Structured answers are validated with pydantic; an invalid one gets exactly one repair call.
A `max_tokens` stop is never accepted: an extraction is redone on the two halves of its
chunk, a later stage once with twice its budget; after that the stage fails with
`WritingStageError`. A client that answers later (`RequestDeferred`) lets the other calls of a
parallel stage proceed; the stage then raises one `RequestsDeferred` with all of them.
"""

from __future__ import annotations

import json
import math
import threading
from typing import Literal

from pydantic import BaseModel

from techne_assets.core.chunking import Chunk, chunk_evenly, chunk_transcript, with_tail_split
from techne_assets.core.document import DocumentHeader, render_markdown, render_sections
from techne_assets.core.evidence import enforce_evidence
from techne_assets.core.grounding import check_grounding, remove_unsupported, transcript_index
from techne_assets.core.instruction_types import caution_for, classify_instruction
from techne_assets.core.language import detect_language
from techne_assets.core.sanitize import LinkPolicy
from techne_assets.core.tokens import estimate_tokens
from techne_assets.core.transcript import Transcript, format_segment_line, format_timestamp
from techne_assets.core.writing import budgets, prompts, sources, stages
from techne_assets.core.writing.base import (
    Draft,
    ModelClient,
    ReplyCache,
    ToolSpec,
    TruncatedOutputError,
    WritingContext,
)
from techne_assets.core.writing.calls import (
    ModelCalls,
    StageUsage,
    WritingStageError,
    stage_of,
    usage_by_stage,
)
from techne_assets.core.writing.extraction import ChunkExtraction, Outline, tool_input_schema
from techne_assets.core.writing.review_edits import ReviewAnswer, apply_edits, review_view
from techne_assets.core.writing.sections import SECTION_GROUPS, WrittenSections

__all__ = ["StagedModelWriter", "StageUsage", "WritingStageError", "stage_of", "usage_by_stage"]

RequestShape = Literal["compact", "transcript"]

EXTRACTION_TOOL = ToolSpec(
    name="registrar_extracao",
    description="Registra o conteúdo técnico de um trecho da chamada, com a evidência de cada item.",
    input_schema=tool_input_schema(ChunkExtraction),
)
OUTLINE_TOOL = ToolSpec(
    name="registrar_roteiro",
    description="Registra o roteiro do documento: itens sem duplicatas, na ordem da chamada.",
    input_schema=tool_input_schema(Outline),
)
SECTION_TOOLS = {
    group: ToolSpec(
        name=tool_name,
        description="Registra seções do Documento de Treinamento e Troubleshooting.",
        input_schema=tool_input_schema(model),
    )
    for group, model, tool_name, _ in SECTION_GROUPS
}
REVIEW_TOOL = ToolSpec(
    name="registrar_revisao",
    description="Registra as edições da revisão técnica: trocar um campo ou remover um item, pelo id.",
    input_schema=tool_input_schema(ReviewAnswer),
)

# The extraction tool as the request carries it, for the quota the plan counts.
EXTRACTION_TOOL_JSON = json.dumps(
    {"tools": [{"toolSpec": EXTRACTION_TOOL.model_dump()}], "toolChoice": {"tool": {"name": EXTRACTION_TOOL.name}}}
)

LANGUAGE_SAMPLE_WORDS = 3000


def call_language(transcript: Transcript) -> str:
    """The call's language: the transcriber's code when it gave one, else detected."""
    sample = " ".join(" ".join(s.text for s in transcript.segments).split()[:LANGUAGE_SAMPLE_WORDS])
    return detect_language(sample, hint=transcript.language)


class StagedModelWriter:
    """The `Writer` for the aws profile: a few model calls through a `ModelClient`."""

    def __init__(
        self,
        client: ModelClient,
        *,
        chunk_max_tokens: int = 16_000,
        chunk_overlap_tokens: int = 0,
        max_parallel_calls: int = 4,
        max_output_tokens: int = 64_000,
        use_prompt_cache: bool = True,
        reply_cache: ReplyCache | None = None,
        request_shape: RequestShape = "compact",
        tokens_per_minute: int | None = None,
        output_burndown: float = 5.0,
    ):
        if max_parallel_calls < 1:
            raise ValueError(f"max_parallel_calls must be at least 1, got {max_parallel_calls}")
        self.client = client
        self.chunk_max_tokens = chunk_max_tokens
        self.chunk_overlap_tokens = chunk_overlap_tokens
        self.max_parallel_calls = max_parallel_calls
        self.max_output_tokens = max_output_tokens
        self.use_prompt_cache = use_prompt_cache
        self.reply_cache = reply_cache
        self.request_shape = request_shape
        self.tokens_per_minute = tokens_per_minute
        self.output_burndown = output_burndown

    @property
    def name(self) -> str:
        return f"bedrock:{self.client.model_id}"

    def write(self, transcript: Transcript, context: WritingContext) -> Draft:
        return _Run(self, transcript).draft(context)


class _Run(ModelCalls):
    """One `write`: the call's language, its chunks and their segments, the shared prefix."""

    def __init__(self, writer: StagedModelWriter, transcript: Transcript):
        self.writer = writer
        self.transcript = transcript
        self.language = call_language(transcript)
        terms = stages.technical_terms(transcript.text, stages.CONTEXT_TERMS)
        self.plan: budgets.ExtractionPlan | None = None
        self.chunks = self._chunks(terms)
        self.ranges = stages.chunk_segment_indices(transcript, self.chunks)
        prefix = self._prefix(terms, self.ranges)
        super().__init__(
            writer.client,
            prefix,
            use_prompt_cache=writer.use_prompt_cache,
            reply_cache=writer.reply_cache,
            max_output_tokens=writer.max_output_tokens,
            max_parallel_calls=writer.max_parallel_calls,
        )

    def _chunks(self, terms: list[str]) -> list[Chunk]:
        """The chunks at `chunk_max_tokens`, or, given the quota, the extraction plan's."""
        writer, transcript = self.writer, self.transcript
        if writer.tokens_per_minute is None or not transcript.segments:
            return chunk_transcript(transcript, writer.chunk_max_tokens, writer.chunk_overlap_tokens)
        # The plan counts the lines the requests carry (with their ids); the chunker counts lines
        # without ids: its budgets are the plan's scaled by the ratio of the two.
        lines = estimate_tokens(prompts.transcript_lines(transcript, range(len(transcript.segments))))
        scale = estimate_tokens("\n".join(format_segment_line(s) for s in transcript.segments)) / lines
        compact = writer.request_shape == "compact"
        request = prompts.extraction_prompt(0, transcript.spoken_end, self.language, "" if compact else None)
        call_tokens = sum(
            estimate_tokens(part) for part in (prompts.SYSTEM_PROMPT, self._prefix(terms, []), request, EXTRACTION_TOOL_JSON)
        )
        tokens_per_minute = writer.tokens_per_minute
        plan, chunks = self._planned(lines, call_tokens, scale, tokens_per_minute)
        # Measured on the real requests (the prefix with its chunk outline, each chunk's own
        # lines), a first wave over the window is planned again with what each call overshot.
        overshoot = self._wave_quota(chunks, plan.wave_calls, terms) - budgets.quota_window(tokens_per_minute)
        if overshoot > 0:
            more = math.ceil(overshoot / plan.wave_calls)
            plan, chunks = self._planned(lines, call_tokens + more, scale, tokens_per_minute)
        self.plan = plan
        return chunks

    def _planned(
        self, lines: int, call_tokens: int, scale: float, tokens_per_minute: int
    ) -> tuple[budgets.ExtractionPlan, list[Chunk]]:
        writer, overlap = self.writer, self.writer.chunk_overlap_tokens
        plan = budgets.plan_extraction(
            lines, call_tokens, tokens_per_minute=tokens_per_minute,
            output_burndown=writer.output_burndown, max_chunk_tokens=math.floor(writer.chunk_max_tokens / scale),
            max_output_tokens=writer.max_output_tokens, max_parallel_calls=writer.max_parallel_calls,
            chunk_sent=writer.request_shape == "compact",
        )
        if plan.even_chunks:
            return plan, chunk_evenly(self.transcript, plan.even_chunks, writer.chunk_max_tokens, overlap)
        budget = max(overlap + 1, min(writer.chunk_max_tokens, math.ceil(plan.chunk_tokens * scale)))
        chunks = chunk_transcript(self.transcript, budget, overlap)
        pieces = plan.tail_chunks(len(chunks) - 1, math.floor(chunks[-1].tokens / scale))
        return plan, with_tail_split(chunks, pieces, overlap)

    def _wave_quota(self, chunks: list[Chunk], calls: int, terms: list[str]) -> int:
        """The quota tokens the extractions of the first `calls` chunks reserve at admission."""
        ranges = stages.chunk_segment_indices(self.transcript, chunks)
        prefix = self._prefix(terms, ranges)
        shared = sum(estimate_tokens(part) for part in (prompts.SYSTEM_PROMPT, prefix, EXTRACTION_TOOL_JSON))
        total = 0
        for indices in ranges[:calls]:
            prompt, chunk_tokens = self._extraction_request(indices)
            budget = budgets.extraction_budget(chunk_tokens, self.writer.max_output_tokens)
            total += shared + estimate_tokens(prompt) + math.ceil(budget * self.writer.output_burndown)
        return total

    def _prefix(self, terms: list[str], ranges: list[range]) -> str:
        if self.writer.request_shape == "transcript":
            return prompts.transcript_block(self.transcript, self.language)
        outline = stages.chunk_outline(self.transcript, ranges)
        return prompts.context_block(self.transcript, self.language, terms, outline)

    def _extraction_request(self, indices: range) -> tuple[str, int]:
        """The extraction prompt of the segments `indices`, and their lines' tokens."""
        segments = [self.transcript.segments[i] for i in indices]
        start, end = segments[0].start, max(segment.end for segment in segments)
        lines = prompts.transcript_lines(self.transcript, indices)
        compact = self.writer.request_shape == "compact"
        return prompts.extraction_prompt(start, end, self.language, lines if compact else None), estimate_tokens(lines)

    def extract(self, number: int) -> ChunkExtraction:
        label = f"chunk-{number + 1:02d}"
        indices = self.ranges[number]
        try:
            extraction = self._extract_segments(label, indices)
        except TruncatedOutputError as truncated:
            if len(indices) < 2:
                raise self.fail(f"extract:{label}", "output cut at max_tokens on a single segment") from truncated
            middle = indices.start + len(indices) // 2
            halves = ((f"{label}a", range(indices.start, middle)), (f"{label}b", range(middle, indices.stop)))
            results = []
            for half_label, half in halves:
                try:
                    results.append(self._extract_segments(half_label, half))
                except TruncatedOutputError as cut_again:
                    raise self.fail(
                        f"extract:{half_label}", "output cut at max_tokens even on half of the chunk"
                    ) from cut_again
            extraction = results[0].joined(results[1])
        return extraction

    def _extract_segments(self, label: str, indices: range) -> ChunkExtraction:
        prompt, chunk_tokens = self._extraction_request(indices)
        return self.structured(
            f"extract:{label}", prompt, EXTRACTION_TOOL, ChunkExtraction,
            budgets.extraction_budget(chunk_tokens, self.writer.max_output_tokens),
            shared=len(self.chunks) > 1,
        ).with_times_from_evidence(self._segment_start)

    def _segment_start(self, sid: str) -> float | None:
        segment = self.transcript.segment_by_id(sid)
        return segment.start if segment is not None else None

    def _segment_time(self, sid: str) -> str | None:
        segment = self.transcript.segment_by_id(sid)
        return format_timestamp(segment.start) if segment is not None else None

    def write_groups(self, outline: Outline, listed: dict, notes: list[dict]) -> WrittenSections:
        cap = self.writer.max_output_tokens
        reusable = sources.sources_by_id(
            notes,
            [entry.model_dump(mode="json") for entry in outline.entries()]
            + [entry for kind in stages.LISTED_KINDS for entry in listed[kind]],
        )
        requests: list[stages.GroupRequest] = []
        for group, _, _, kinds in SECTION_GROUPS:
            counts = {kind: len(listed[kind]) if kind in listed else len(getattr(outline, kind)) for kind in kinds}
            parts = budgets.parts_needed(counts, cap, with_summary=group == "summary_topics")
            requests += stages.group_requests(group, kinds, outline, listed, notes, self.transcript, parts)
        lecture = not listed["questions"]

        def write(request: stages.GroupRequest) -> BaseModel:
            _, model, tool_name, _ = next(g for g in SECTION_GROUPS if g[0] == request.group)
            review_questions = lecture and request.group == "reference"
            counts = dict(request.counts)
            if review_questions:
                counts["review_questions"] = 8
            budget = budgets.group_budget(
                counts, cap, with_summary=request.group == "summary_topics" and request.part == 1
            )
            prompt = prompts.section_prompt(
                request.group, outline.main_theme, request.entries, request.notes,
                "\n".join(prompts.data_text(line) for line in request.evidence), self.language,
                tool_name=tool_name, review_questions=review_questions,
            )
            return self.with_larger_budget_on_truncation(
                request.stage,
                lambda max_tokens: self.structured(
                    request.stage, prompt, SECTION_TOOLS[request.group], model, max_tokens,
                    completed=lambda answer: sources.filled(answer, reusable),
                    shared=request.parts > 1,
                ),
                budget,
            )

        # A group with nothing to cover is not asked, except the summary (always written) and
        # the review questions of a lecture.
        needed = [
            request for request in requests
            if request.entries or request.group == "summary_topics" or (lecture and request.group == "reference")
        ]
        answers = self.parallel([lambda request=request: write(request) for request in needed])
        return WrittenSections.joined(answers)

    def _prepare_checks(self) -> None:
        transcript_index(self.transcript)
        LinkPolicy(self.transcript.text)
        # the typing rules' cue patterns, compiled once per process on their first use
        caution_for(classify_instruction("rode rm -rf /tmp/x"))

    def review(self, sections: WrittenSections, header: DocumentHeader) -> ReviewAnswer:
        unsupported = check_grounding(
            render_markdown(sections.to_document(header), self.transcript), self.transcript
        ).unsupported
        view = review_view(sections)
        return self.sequential(
            lambda: self.with_larger_budget_on_truncation(
                "review",
                lambda budget: self.structured(
                    "review", prompts.review_prompt(view, unsupported, self.language),
                    REVIEW_TOOL, ReviewAnswer, budget, shared=False,
                ),
                budgets.review_budget(len(view), self.writer.max_output_tokens),
            )
        )

    def draft(self, context: WritingContext) -> Draft:
        # Writing out the transcript's spoken forms for grounding and links, and compiling the
        # typing rules, is CPU work the later stages wait for: done while the extractions wait
        # on the model instead.
        checks = threading.Thread(target=self._prepare_checks, daemon=True)
        checks.start()
        extractions = self.parallel(
            [lambda number=number: self.extract(number) for number in range(len(self.chunks))],
            first_alone=self.writer.use_prompt_cache and self.writer.request_shape == "transcript",
            max_workers=self.plan.wave_calls if self.plan else None,
        )
        unevidenced = [
            dropped
            for number, extraction in enumerate(extractions)
            for dropped in enforce_evidence(
                extraction, self.transcript, where=f"extract:chunk-{number + 1:02d}",
                allowed=stages.allowed_ids(self.ranges[number]),
            )
        ]
        chunk_notes = [
            {"chunk": number + 1, "start": self.chunks[number].new_segments[0].start,
             "end": self.chunks[number].end, **extraction.model_dump(mode="json")}
            for number, extraction in enumerate(extractions)
        ]
        notes = sources.numbered_notes([{kind: note[kind] for kind in stages.NOTE_KINDS} for note in chunk_notes])
        merged = stages.merge_view(notes)
        notes_by_id = {note["id"]: note for note in notes}
        outline = self.sequential(
            lambda: self.with_larger_budget_on_truncation(
                "merge",
                lambda budget: self.structured(
                    "merge", prompts.merge_prompt(merged, self.language), OUTLINE_TOOL, Outline, budget,
                    completed=lambda answer: sources.outline_filled(answer, notes_by_id, self._segment_time),
                    shared=False,
                ),
                budgets.merge_budget(len(merged), self.writer.max_output_tokens),
            )
        )
        unevidenced += enforce_evidence(outline, self.transcript, where="merge")
        listed = stages.listed_entries(extractions)
        entry_ids = [entry.id for entry in outline.entries()] + [
            entry["id"] for kind in stages.LISTED_KINDS for entry in listed[kind]
        ]

        sections = self.write_groups(outline, listed, notes)
        reasons = {entry.outline_id: entry.reason for entry in sections.dropped}
        written = sections.model_copy(deep=True)
        written_dropped = enforce_evidence(sections, self.transcript, where="write")
        unevidenced += written_dropped
        reasons.update(stages.unevidenced_reasons(written, sections, written_dropped))
        not_steps = stages.type_procedure_content(sections)

        header = DocumentHeader(
            source_name=context.source_name,
            call_date=context.call_date,
            duration_seconds=context.media_duration or self.transcript.duration or self.transcript.spoken_end,
            participants=self.transcript.speakers,
            writer=self.client.model_id,
            written_offline=False,
            language=self.language,
        )
        checks.join()
        review = self.review(sections, header)
        outcome = apply_edits(sections, review.edits)
        reasons.update({entry.outline_id: entry.reason for entry in outcome.removed})
        not_steps += stages.type_procedure_content(sections)
        covered = stages.coverage(entry_ids, sections, reasons=reasons)
        document, removed = remove_unsupported(sections.to_document(header), self.transcript)
        return Draft(
            writer=self.writer.name,
            chunk_notes=chunk_notes,
            outline={**outline.model_dump(mode="json"), **listed},
            # The appendix is the transcript itself; the draft keeps only the written sections.
            sections=dict(list(render_sections(document, self.transcript).items())[:-1]),
            calls=self.calls(),
            removed_ungrounded=removed,
            dropped_unevidenced=unevidenced,
            dropped_from_steps=not_steps,
            review_edits=[edit.model_dump() for edit in outcome.applied],
            coverage=covered,
            document=document,
        )
