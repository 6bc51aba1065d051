"""The writer port: a transcript in, a draft (intermediate artifacts plus the document model) out."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, Field

from techne_assets.core.document import Document
from techne_assets.core.evidence import DroppedItem
from techne_assets.core.transcript import Transcript


class CallUsage(BaseModel):
    """What one model call used and cost, read from the service's usage fields."""

    stage: str
    model_id: str
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0
    cost_usd: float = 0.0
    latency_seconds: float = 0.0
    stop_reason: str | None = None
    reused: bool = Field(
        default=False, description="answered from the reply cache: an identical earlier request, not paid again"
    )


class CoverageGap(BaseModel):
    outline_id: str
    reason: str


class Coverage(BaseModel):
    """Outline entries found in the document, and why each missing one is missing."""

    entries: int
    covered: int
    fraction: float = Field(description="covered / entries; 1.0 when the outline is empty")
    dropped: list[CoverageGap] = Field(default_factory=list)


class Draft(BaseModel):
    """Everything a writer produced on the way to the document, kept so later stages can be re-run."""

    writer: str
    chunk_notes: list[dict[str, Any]] = Field(default_factory=list)
    outline: dict[str, Any] = Field(default_factory=dict)
    sections: dict[str, str] = Field(default_factory=dict, description="section heading → Markdown")
    calls: list[CallUsage] = Field(default_factory=list)
    removed_ungrounded: list[str] = Field(
        default_factory=list, description="technical spans dropped because the transcript lacks them"
    )
    dropped_unevidenced: list[DroppedItem] = Field(
        default_factory=list, description="items dropped because no valid transcript segment backs them"
    )
    dropped_from_steps: list[DroppedItem] = Field(
        default_factory=list, description="narration and speech instructing the writer, kept out of the steps"
    )
    review_edits: list[dict[str, Any]] = Field(
        default_factory=list, description="the review's edits, as applied"
    )
    coverage: Coverage | None = Field(
        default=None, description="outline entries in the document (model writer)"
    )
    document: Document

    @property
    def input_tokens(self) -> int:
        return sum(c.input_tokens + c.cache_read_input_tokens + c.cache_write_input_tokens for c in self.calls)

    @property
    def output_tokens(self) -> int:
        return sum(c.output_tokens for c in self.calls)

    @property
    def cost_usd(self) -> float:
        return round(sum(c.cost_usd for c in self.calls), 6)

    @property
    def unrecovered_truncations(self) -> list[str]:
        """Stages cut at their token limit with no later complete call for the same stage.

        A cut-off call that was redone (a split chunk, a retry with a larger budget) is paid for
        and listed in `calls`, but its text never reached the document.
        """
        return [
            call.stage
            for index, call in enumerate(self.calls)
            if call.stop_reason == "max_tokens"
            and not any(
                later.stage.startswith(call.stage) and later.stop_reason != "max_tokens"
                for later in self.calls[index + 1 :]
            )
        ]


class WritingContext(BaseModel):
    """What a writer knows about the call besides its transcript."""

    source_name: str
    call_date: str | None = None
    media_duration: float | None = None


class Writer(Protocol):
    name: str

    def write(self, transcript: Transcript, context: WritingContext) -> Draft: ...


class ToolSpec(BaseModel):
    """A tool the model is forced to call, so structured output comes as validated JSON."""

    name: str
    description: str
    input_schema: dict[str, Any]


class ModelReply(BaseModel):
    text: str = ""
    tool_input: dict[str, Any] | None = None
    stop_reason: str
    usage: CallUsage


class ModelClient(Protocol):
    """The port the staged writer calls; the Bedrock adapter implements it (and test doubles do)."""

    model_id: str

    def converse(
        self,
        *,
        stage: str,
        system: str,
        prompt: str,
        cached_prefix: str | None = None,
        max_tokens: int = 4096,
        tool: ToolSpec | None = None,
    ) -> ModelReply: ...


class ReplyCache(Protocol):
    """Model replies by request digest, so an unchanged stage is not paid for twice."""

    def get(self, digest: str) -> ModelReply | None: ...

    def put(self, digest: str, reply: ModelReply) -> None: ...


class TruncatedOutputError(Exception):
    """The model's output hit max_tokens; `reply` holds the partial answer and what it cost."""

    def __init__(self, message: str, *, reply: ModelReply):
        super().__init__(message)
        self.reply = reply


class RequestDeferred(Exception):
    """A `ModelClient` that answers later (Bedrock batch) was handed a request it has no reply for.

    The batch client raises it for a request not yet answered; the staged writer lets the other
    calls of the same stage proceed and then raises `RequestsDeferred` with all of them, so one
    pass through the writer collects a whole stage's requests. `request` holds the arguments of
    `ModelClient.converse` and `digest` the reply-cache key the answer must be stored under.
    """

    def __init__(self, stage: str, digest: str, request: dict[str, Any]):
        super().__init__(f"{stage}: request {digest[:12]} deferred to a later answer")
        self.stage = stage
        self.digest = digest
        self.request = request


class RequestsDeferred(Exception):
    """Every request of the writer's current stage that waits for a later answer."""

    def __init__(self, deferred: list[RequestDeferred]):
        stages = sorted({item.stage.split(":", 1)[0] for item in deferred})
        super().__init__(f"{len(deferred)} request(s) deferred at stage(s) {', '.join(stages)}")
        self.deferred = deferred
