"""The staged model writer: extract per chunk → merge into an outline → write → review.

1. clean and segment, no model: `chunk_transcript`;
2. one extraction call per chunk (in parallel, after a first call that writes the prompt
   cache), each forced to answer through the `registrar_extracao` tool → `ChunkExtraction`;
3. one merge call → `Outline`;
4. one write call → `WrittenDocument`, the sections of the document;
5. one review call, given the spans `check_grounding` finds unsupported → `WrittenDocument`;
   then `remove_unsupported` enforces the grounding rule deterministically.

Every call sends the whole transcript block as the cached prefix, so after the first call
the transcript is read from the prompt cache. Structured answers are validated with
pydantic; an invalid one gets exactly one repair call. A `max_tokens` stop is never
accepted: an extraction is redone on the two halves of its chunk, a later stage once with a
larger budget; after that the stage fails with `WritingStageError`.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from techne_assets.core.chunking import Chunk, chunk_transcript
from techne_assets.core.document import DocumentHeader, render_markdown, render_sections
from techne_assets.core.grounding import check_grounding, remove_unsupported
from techne_assets.core.transcript import Segment, Transcript
from techne_assets.core.writing import prompts
from techne_assets.core.writing.base import (
    CallUsage,
    Draft,
    ModelClient,
    ModelReply,
    ReplyCache,
    ToolSpec,
    TruncatedOutputError,
    WritingContext,
)
from techne_assets.core.writing.extraction import ChunkExtraction, Outline, WrittenDocument

Structured = TypeVar("Structured", bound=BaseModel)

EXTRACTION_TOOL = ToolSpec(
    name="registrar_extracao",
    description="Registra o conteúdo técnico de um trecho da chamada.",
    input_schema=ChunkExtraction.model_json_schema(),
)
OUTLINE_TOOL = ToolSpec(
    name="registrar_roteiro",
    description="Registra o roteiro do documento: itens sem duplicatas, na ordem da chamada.",
    input_schema=Outline.model_json_schema(),
)
DOCUMENT_TOOL = ToolSpec(
    name="registrar_documento",
    description="Registra as seções do Documento de Treinamento e Troubleshooting.",
    input_schema=WrittenDocument.model_json_schema(),
)
REVIEW_TOOL = ToolSpec(
    name="registrar_revisao",
    description="Registra o documento revisado, inteiro, com todas as seções.",
    input_schema=WrittenDocument.model_json_schema(),
)

# Output budgets per call. An extraction that needs more is split; a later stage gets one
# retry with twice its budget, never more than `max_output_tokens`.
EXTRACT_MAX_TOKENS = 4096
MERGE_MAX_TOKENS = 4096
WRITE_MAX_TOKENS = 8192
REVIEW_MAX_TOKENS = 8192

# Draft.calls lists the stages in this order; within a stage, extraction calls by chunk.
STAGE_ORDER = ("extract", "merge", "write", "review")


class WritingStageError(RuntimeError):
    """A stage could not produce a usable answer; `calls` holds what was spent until then."""

    def __init__(self, stage: str, reason: str, *, calls: list[CallUsage]):
        super().__init__(f"writer stage {stage!r} failed: {reason}")
        self.stage = stage
        self.calls = calls


class StageUsage(BaseModel):
    """Usage and cost of all the calls of one stage."""

    calls: int
    input_tokens: int
    cache_read_input_tokens: int
    cache_write_input_tokens: int
    output_tokens: int
    cost_usd: float


def stage_of(call: CallUsage) -> str:
    """The stage a call belongs to: "extract:chunk-02:repair" → "extract"."""
    return call.stage.split(":", 1)[0]


def usage_by_stage(calls: list[CallUsage]) -> dict[str, StageUsage]:
    """Usage and cost per stage, in stage order."""
    grouped: dict[str, list[CallUsage]] = defaultdict(list)
    for call in calls:
        grouped[stage_of(call)].append(call)
    return {
        stage: StageUsage(
            calls=len(group),
            input_tokens=sum(c.input_tokens for c in group),
            cache_read_input_tokens=sum(c.cache_read_input_tokens for c in group),
            cache_write_input_tokens=sum(c.cache_write_input_tokens for c in group),
            output_tokens=sum(c.output_tokens for c in group),
            cost_usd=round(sum(c.cost_usd for c in group), 6),
        )
        for stage, group in sorted(grouped.items(), key=lambda item: _stage_rank(item[0]))
    }


def _request_digest(model_id: str, max_tokens: int, tool: ToolSpec, request: dict) -> str:
    payload = {
        "model_id": model_id,
        "system": prompts.SYSTEM_PROMPT,
        "max_tokens": max_tokens,
        "tool": tool.model_dump(),
        **request,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _stage_rank(stage: str) -> int:
    return STAGE_ORDER.index(stage) if stage in STAGE_ORDER else len(STAGE_ORDER)


class StagedModelWriter:
    """The `Writer` for the aws profile: a few model calls through a `ModelClient`."""

    def __init__(
        self,
        client: ModelClient,
        *,
        chunk_max_tokens: int = 12_000,
        chunk_overlap_tokens: int = 0,
        max_parallel_chunks: int = 4,
        max_output_tokens: int = 16_384,
        use_prompt_cache: bool = True,
        reply_cache: ReplyCache | None = None,
    ):
        if max_parallel_chunks < 1:
            raise ValueError(f"max_parallel_chunks must be at least 1, got {max_parallel_chunks}")
        self.client = client
        self.chunk_max_tokens = chunk_max_tokens
        self.chunk_overlap_tokens = chunk_overlap_tokens
        self.max_parallel_chunks = max_parallel_chunks
        self.max_output_tokens = max_output_tokens
        self.use_prompt_cache = use_prompt_cache
        self.reply_cache = reply_cache

    @property
    def name(self) -> str:
        return f"bedrock:{self.client.model_id}"

    def write(self, transcript: Transcript, context: WritingContext) -> Draft:
        return _Run(self, transcript).draft(context)


class _Run:
    """One `write`: the transcript block every call shares and the usage of every call made."""

    def __init__(self, writer: StagedModelWriter, transcript: Transcript):
        self.writer = writer
        self.client = writer.client
        self.transcript = transcript
        self.block = prompts.transcript_block(transcript)
        self._calls: list[CallUsage] = []
        self._lock = threading.Lock()

    # ---- calls -----------------------------------------------------------------------------

    def calls(self) -> list[CallUsage]:
        """Every call so far: stages in order; extraction calls by chunk, however they finished."""
        with self._lock:
            calls = list(self._calls)

        def key(call: CallUsage) -> tuple[int, str]:
            return _stage_rank(stage_of(call)), call.stage if stage_of(call) == "extract" else ""

        return sorted(calls, key=key)

    def _record(self, usage: CallUsage) -> None:
        with self._lock:
            self._calls.append(usage)

    def fail(self, stage: str, reason: str) -> WritingStageError:
        return WritingStageError(stage, reason, calls=self.calls())

    def converse(self, stage: str, prompt: str, tool: ToolSpec, max_tokens: int) -> ModelReply:
        """One call; its usage is recorded even when its output was cut at max_tokens.

        With a reply cache, a request identical to an earlier one (same model, prompts,
        transcript, tool and budget) is answered from it: after a prompt change only the stages
        whose requests changed are paid for again."""
        if self.writer.use_prompt_cache:
            request = {"prompt": prompt, "cached_prefix": self.block}
        else:
            request = {"prompt": f"{self.block}\n\n{prompt}", "cached_prefix": None}
        cache = self.writer.reply_cache
        digest = _request_digest(self.client.model_id, max_tokens, tool, request)
        if cache is not None and (cached := cache.get(digest)) is not None:
            reused = CallUsage(stage=stage, model_id=self.client.model_id, reused=True,
                               stop_reason=cached.stop_reason)
            self._record(reused)
            return cached.model_copy(update={"usage": reused})
        try:
            reply = self.client.converse(
                stage=stage,
                system=prompts.SYSTEM_PROMPT,
                max_tokens=max_tokens,
                tool=tool,
                **request,
            )
        except TruncatedOutputError as error:
            # Paid for even though its text is unusable.
            self._record(error.reply.usage)
            raise
        self._record(reply.usage)
        if reply.stop_reason == "max_tokens":
            raise TruncatedOutputError(f"{stage}: output cut at max_tokens", reply=reply)
        if cache is not None:
            cache.put(digest, reply)
        return reply

    def structured(
        self, stage: str, prompt: str, tool: ToolSpec, output: type[Structured], max_tokens: int
    ) -> Structured:
        """A tool-forced call validated as `output`; one repair call when the answer is invalid."""
        reply = self.converse(stage, prompt, tool, max_tokens)
        try:
            return output.model_validate(prompts.restore_data_text(reply.tool_input))
        except ValidationError as invalid:
            repair = prompts.repair_prompt(prompt, str(invalid), reply.tool_input)
        repaired = self.converse(f"{stage}:repair", repair, tool, max_tokens)
        try:
            return output.model_validate(prompts.restore_data_text(repaired.tool_input))
        except ValidationError as still_invalid:
            raise self.fail(
                stage,
                f"the answer to tool {tool.name!r} is still invalid after one repair call: "
                f"{still_invalid.error_count()} error(s), first: {_first_error(still_invalid)}",
            ) from still_invalid

    def with_larger_budget_on_truncation(
        self, stage: str, call: Callable[[int], Structured], max_tokens: int
    ) -> Structured:
        """`call(max_tokens)`; if cut at max_tokens, once more with twice the budget (capped)."""
        try:
            return call(max_tokens)
        except TruncatedOutputError as first:
            larger = min(2 * max_tokens, self.writer.max_output_tokens)
            if larger <= max_tokens:
                raise self.fail(stage, f"output cut at max_tokens={max_tokens}, the cap") from first
        try:
            return call(larger)
        except TruncatedOutputError as second:
            raise self.fail(
                stage, f"output cut at max_tokens again after a retry with {larger}"
            ) from second

    # ---- stages ----------------------------------------------------------------------------

    def extract(self, chunk: Chunk) -> ChunkExtraction:
        label = f"chunk-{chunk.index + 1:02d}"
        segments = chunk.new_segments
        try:
            return self._extract_segments(label, segments)
        except TruncatedOutputError as truncated:
            if len(segments) < 2:
                raise self.fail(
                    f"extract:{label}", "output cut at max_tokens on a single segment"
                ) from truncated
        middle = len(segments) // 2
        halves = ((f"{label}a", segments[:middle]), (f"{label}b", segments[middle:]))
        results = []
        for half_label, half in halves:
            try:
                results.append(self._extract_segments(half_label, half))
            except TruncatedOutputError as truncated:
                raise self.fail(
                    f"extract:{half_label}", "output cut at max_tokens even on half of the chunk"
                ) from truncated
        return results[0].joined(results[1])

    def _extract_segments(self, label: str, segments: list[Segment]) -> ChunkExtraction:
        start, end = segments[0].start, max(segment.end for segment in segments)
        return self.structured(
            f"extract:{label}",
            prompts.extraction_prompt(start, end),
            EXTRACTION_TOOL,
            ChunkExtraction,
            EXTRACT_MAX_TOKENS,
        )

    def extract_all(self, chunks: list[Chunk]) -> list[ChunkExtraction]:
        if not chunks:
            return []
        # Calls sent before the first one has been answered cannot read the prompt cache, so
        # the first chunk goes alone and writes it; the others then read it in parallel.
        first = [self.extract(chunks[0])] if self.writer.use_prompt_cache else []
        rest = chunks[len(first) :]
        with ThreadPoolExecutor(max_workers=self.writer.max_parallel_chunks) as pool:
            # map keeps the chunks' order whatever order the calls finish in.
            return first + list(pool.map(self.extract, rest))

    def draft(self, context: WritingContext) -> Draft:
        chunks = chunk_transcript(
            self.transcript, self.writer.chunk_max_tokens, self.writer.chunk_overlap_tokens
        )
        extractions = self.extract_all(chunks)
        chunk_notes = [
            {
                "chunk": chunk.index + 1,
                "start": chunk.new_segments[0].start,
                "end": chunk.end,
                **extraction.model_dump(mode="json"),
            }
            for chunk, extraction in zip(chunks, extractions, strict=True)
        ]

        outline = self.with_larger_budget_on_truncation(
            "merge",
            lambda budget: self.structured(
                "merge", prompts.merge_prompt(chunk_notes), OUTLINE_TOOL, Outline, budget
            ),
            MERGE_MAX_TOKENS,
        )
        written = self.with_larger_budget_on_truncation(
            "write",
            lambda budget: self.structured(
                "write",
                prompts.write_prompt(outline, chunk_notes),
                DOCUMENT_TOOL,
                WrittenDocument,
                budget,
            ),
            WRITE_MAX_TOKENS,
        )

        header = DocumentHeader(
            source_name=context.source_name,
            call_date=context.call_date,
            duration_seconds=context.media_duration
            or self.transcript.duration
            or self.transcript.spoken_end,
            participants=self.transcript.speakers,
            writer=self.client.model_id,
            written_offline=False,
        )
        unsupported = check_grounding(
            render_markdown(written.to_document(header), self.transcript), self.transcript
        )
        reviewed = self.with_larger_budget_on_truncation(
            "review",
            lambda budget: self.structured(
                "review",
                prompts.review_prompt(written, unsupported.unsupported),
                REVIEW_TOOL,
                WrittenDocument,
                budget,
            ),
            REVIEW_MAX_TOKENS,
        )
        document, removed = remove_unsupported(reviewed.to_document(header), self.transcript)
        return Draft(
            writer=self.writer.name,
            chunk_notes=chunk_notes,
            outline=outline.model_dump(mode="json"),
            # The appendix is the transcript itself; the draft keeps only the written sections.
            sections=dict(list(render_sections(document, self.transcript).items())[:-1]),
            calls=self.calls(),
            removed_ungrounded=removed,
            document=document,
        )


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "(raiz)"
    return f"{location}: {first['msg']}"
