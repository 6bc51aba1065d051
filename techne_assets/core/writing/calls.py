"""How the staged writer makes its model calls: usage recorded as each call returns, the reply
cache, one repair call for an invalid answer, one larger budget for a cut one, and stages run in
parallel that let deferred requests (a client that answers later) collect into one exception."""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from techne_assets.core.writing import prompts
from techne_assets.core.writing.base import (
    CallUsage,
    ModelClient,
    ModelReply,
    ReplyCache,
    RequestDeferred,
    RequestsDeferred,
    ToolSpec,
    TruncatedOutputError,
)

Structured = TypeVar("Structured", bound=BaseModel)
T = TypeVar("T")

# Draft.calls lists the stages in this order; within a stage, calls by their stage label.
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


def request_digest(model_id: str, max_tokens: int, tool: ToolSpec, request: dict) -> str:
    """The reply-cache key of one request: model, system prompt, budget, tool and `request`
    (`prompt` and `cached_prefix`). A client that answers later names its requests by it."""
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


class ModelCalls:
    """The calls of one `write`: every request shares `prefix` (cached when `use_prompt_cache`)."""

    def __init__(
        self,
        client: ModelClient,
        prefix: str,
        *,
        use_prompt_cache: bool,
        reply_cache: ReplyCache | None,
        max_output_tokens: int,
        max_parallel_calls: int,
    ):
        self.client = client
        self.prefix = prefix
        self.use_prompt_cache = use_prompt_cache
        self.reply_cache = reply_cache
        self.max_output_tokens = max_output_tokens
        self.max_parallel_calls = max_parallel_calls
        self._calls: list[CallUsage] = []
        self._lock = threading.Lock()

    def calls(self) -> list[CallUsage]:
        """Every call so far: stages in order; within a stage, by label, however they finished."""
        with self._lock:
            calls = list(self._calls)
        return sorted(calls, key=lambda call: (_stage_rank(stage_of(call)), call.stage))

    def _record(self, usage: CallUsage) -> None:
        with self._lock:
            self._calls.append(usage)

    def fail(self, stage: str, reason: str) -> WritingStageError:
        return WritingStageError(stage, reason, calls=self.calls())

    def converse(
        self, stage: str, prompt: str, tool: ToolSpec, max_tokens: int, *, shared: bool = True
    ) -> ModelReply:
        """One call; its usage is recorded even when its output was cut at max_tokens.

        `shared`: other calls will send the same tool and prefix. Only then is the prefix marked
        for the prompt cache: the cached prefix starts with the tool's schema, so a call whose
        tool no other call uses would pay the cache write (1.25× input) and never read it.

        With a reply cache, a request identical to an earlier one (same model, prompts, prefix,
        tool and budget) is answered from it: after a prompt change only the stages whose
        requests changed are paid for again."""
        if self.use_prompt_cache and shared:
            request = {"prompt": prompt, "cached_prefix": self.prefix}
        else:
            request = {"prompt": f"{self.prefix}\n\n{prompt}", "cached_prefix": None}
        cache = self.reply_cache
        digest = request_digest(self.client.model_id, max_tokens, tool, request)
        if cache is not None and (cached := cache.get(digest)) is not None:
            reused = CallUsage(stage=stage, model_id=self.client.model_id, reused=True,
                               stop_reason=cached.stop_reason)
            self._record(reused)
            return cached.model_copy(update={"usage": reused})
        arguments = dict(stage=stage, system=prompts.SYSTEM_PROMPT, max_tokens=max_tokens, tool=tool, **request)
        try:
            reply = self.client.converse(**arguments)
        except TruncatedOutputError as error:
            # Paid for even though its text is unusable.
            self._record(error.reply.usage)
            raise
        except RequestDeferred as deferred:
            # Named by this writer's cache key, where the later answer must be stored.
            raise RequestDeferred(stage, digest, arguments) from deferred
        self._record(reply.usage)
        if reply.stop_reason == "max_tokens":
            raise TruncatedOutputError(f"{stage}: output cut at max_tokens", reply=reply)
        if cache is not None:
            cache.put(digest, reply)
        return reply

    def structured(
        self, stage: str, prompt: str, tool: ToolSpec, output: type[Structured], max_tokens: int,
        *, completed: Callable[[object], object] = lambda tool_input: tool_input, shared: bool = True,
    ) -> Structured:
        """A tool-forced call validated as `output`; one repair call when the answer is invalid.
        `completed` fills in, before validation, what the answer names by id (sources.py)."""
        reply = self.converse(stage, prompt, tool, max_tokens, shared=shared)
        try:
            return output.model_validate(completed(prompts.restore_data_text(reply.tool_input)))
        except ValidationError as invalid:
            repair = prompts.repair_prompt(prompt, str(invalid), reply.tool_input)
        repaired = self.converse(f"{stage}:repair", repair, tool, max_tokens, shared=shared)
        try:
            return output.model_validate(completed(prompts.restore_data_text(repaired.tool_input)))
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
            larger = min(2 * max_tokens, self.max_output_tokens)
            if larger <= max_tokens:
                raise self.fail(stage, f"output cut at max_tokens={max_tokens}, the cap") from first
        try:
            return call(larger)
        except TruncatedOutputError as second:
            raise self.fail(
                stage, f"output cut at max_tokens again after a retry with {larger}"
            ) from second

    def parallel(
        self, tasks: list[Callable[[], T]], *, first_alone: bool = False, max_workers: int | None = None
    ) -> list[T]:
        """Runs `tasks` in parallel (at most `max_workers` at once, in order), results in order.
        Deferred requests do not stop the others: once all have run, one `RequestsDeferred` names
        every one of them."""
        deferred: list[RequestDeferred] = []

        def run(task: Callable[[], T]) -> T | None:
            try:
                return task()
            except RequestDeferred as request:
                deferred.append(request)
            except RequestsDeferred as requests:
                deferred.extend(requests.deferred)
            return None

        results = [run(tasks[0])] if first_alone and tasks else []
        with ThreadPoolExecutor(max_workers=min(self.max_parallel_calls, max_workers or self.max_parallel_calls)) as pool:
            results += list(pool.map(run, tasks[len(results) :]))
        if deferred:
            raise RequestsDeferred(sorted(deferred, key=lambda request: request.stage))
        return results  # type: ignore[return-value]

    def sequential(self, task: Callable[[], T]) -> T:
        try:
            return task()
        except RequestDeferred as request:
            raise RequestsDeferred([request]) from request


def _first_error(error: ValidationError) -> str:
    first = error.errors()[0]
    location = ".".join(str(part) for part in first["loc"]) or "(raiz)"
    return f"{location}: {first['msg']}"
