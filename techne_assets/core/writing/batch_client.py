"""The model client of a batch pass: answers from batch jobs, or the request deferred to the next job.

A batch pass runs the same staged writer (same prompts, tool schemas, validation, evidence
and grounding rules) over this client. A request whose answer the group's jobs hold gets it;
any other raises `RequestDeferred`, which the writer collects per stage, so one pass through
the writer yields exactly the requests of the next job. Requests that cannot wait go
on-demand, through the shared limiter and breaker of the on-demand client: `:repair` calls
(they depend on an answer just read), every request of an `on_demand_only` pass (too few
records for a job), and a request whose batch record errored (retried once; a second failure
fails only its partition, naming both reasons).

Cost. Every pass runs the writer from the start, so a request answered in an earlier pass is
asked again. Through the shared reply cache it would come back as `reused` (free), and the
final draft would show only the last stage's cost. So the writer's reply cache in a pass
(`writer_reply_cache`) hides what the group itself paid for — batch answers, and the replies
kept in `paid_replies` — and this client serves them with their usage as paid: the final
draft's cost is the sum of what its video really cost. `on_call` hears each paid call once
across passes: an on-demand call when it is made, a batch answer the first time a pass uses
it; both are then kept in `paid_replies`, which is how later passes know.
"""

from __future__ import annotations

from typing import Protocol

from techne_assets.core.writing.base import (
    ModelClient,
    ModelReply,
    ReplyCache,
    RequestDeferred,
    ToolSpec,
    TruncatedOutputError,
)
from techne_assets.core.writing.batch_records import BatchAnswer
from techne_assets.core.writing.calls import request_digest
from techne_assets.core.writing.observed import CallObserver

REPAIR_SUFFIX = ":repair"


class BatchAnswers(Protocol):
    def answer(self, digest: str) -> BatchAnswer | None: ...


class BatchRecordFailed(RuntimeError):
    """A request failed in batch and again on demand: its partition fails with both reasons."""


class BatchDeferringClient:
    """A `ModelClient` over a group's batch answers, with `on_demand` for what cannot wait.

    `paid_replies` keeps the replies this group paid for (by request digest) once a pass used
    them: on-demand calls, and batch answers;
    `reply_cache` is the shared reply cache the writer would otherwise use; `passthrough` are
    errors of the on-demand client that are not the request's fault (an open circuit, a quota
    wait that gave up, missing credentials): they propagate unchanged, so the step is retried
    instead of the partition failing.
    """

    def __init__(
        self,
        on_demand: ModelClient,
        answers: BatchAnswers,
        *,
        on_demand_only: bool = False,
        paid_replies: ReplyCache | None = None,
        reply_cache: ReplyCache | None = None,
        on_call: CallObserver | None = None,
        passthrough: tuple[type[BaseException], ...] = (),
    ):
        self.on_demand = on_demand
        self.model_id = on_demand.model_id
        self.answers = answers
        self.on_demand_only = on_demand_only
        self.paid_replies = paid_replies
        self.reply_cache = reply_cache
        self.on_call = on_call
        self.passthrough = passthrough

    def __getattr__(self, name: str):
        # Limits and model facts (max_output_tokens, ...) are the on-demand client's.
        return getattr(self.on_demand, name)

    def digest(self, *, prompt: str, cached_prefix: str | None, max_tokens: int, tool: ToolSpec) -> str:
        """The digest the staged writer's `ModelCalls` gives the same request."""
        return request_digest(
            self.model_id, max_tokens, tool, {"prompt": prompt, "cached_prefix": cached_prefix}
        )

    def writer_reply_cache(self) -> ReplyCache | None:
        """The reply cache the writer of this pass must use (see the module docstring)."""
        if self.reply_cache is None and self.paid_replies is None:
            return None
        return _GroupHidingReplyCache(self)

    def paid_by_group(self, digest: str) -> bool:
        answer = self.answers.answer(digest)
        if answer is not None:
            return True
        return self.paid_replies is not None and self.paid_replies.get(digest) is not None

    def converse(
        self,
        *,
        stage: str,
        system: str,
        prompt: str,
        cached_prefix: str | None = None,
        max_tokens: int = 4096,
        tool: ToolSpec | None = None,
    ) -> ModelReply:
        arguments = dict(stage=stage, system=system, prompt=prompt, cached_prefix=cached_prefix,
                         max_tokens=max_tokens, tool=tool)
        if tool is None:
            # Not a writer request (the writer forces a tool on every call): nothing to batch.
            return self._paid_on_demand(None, arguments)
        digest = self.digest(prompt=prompt, cached_prefix=cached_prefix, max_tokens=max_tokens, tool=tool)
        answer = self.answers.answer(digest)
        if answer is not None and answer.reply is not None:
            return self._batch_reply(stage, digest, answer.reply)
        if self.paid_replies is not None and (paid := self.paid_replies.get(digest)) is not None:
            return _as_paid(stage, paid)
        if answer is not None:
            try:
                return self._paid_on_demand(digest, arguments)
            except (TruncatedOutputError, *self.passthrough):
                raise
            except Exception as error:  # noqa: BLE001 - any failure here is the record's
                raise BatchRecordFailed(
                    f"{stage}: failed in batch ({_one_line(answer.error)}) and on demand ({_one_line(error)})"
                ) from error
        if stage.endswith(REPAIR_SUFFIX) or self.on_demand_only:
            return self._paid_on_demand(digest, arguments)
        raise RequestDeferred(stage, digest, arguments)

    def _batch_reply(self, stage: str, digest: str, reply: ModelReply) -> ModelReply:
        served = reply.model_copy(update={"usage": reply.usage.model_copy(update={"stage": stage})})
        if self.paid_replies is None or self.paid_replies.get(digest) is None:
            # Its first use: reported once, and kept as paid (later passes find it there).
            if self.on_call is not None:
                self.on_call(served.usage)
            if self.paid_replies is not None:
                self.paid_replies.put(digest, served)
        return served

    def _paid_on_demand(self, digest: str | None, arguments: dict) -> ModelReply:
        try:
            reply = self.on_demand.converse(**arguments)
        except TruncatedOutputError as cut:
            # Paid; kept so a later pass does not pay for the same cut answer again.
            self._keep(digest, cut.reply)
            raise
        self._keep(digest, reply)
        return reply

    def _keep(self, digest: str | None, reply: ModelReply) -> None:
        if self.on_call is not None:
            self.on_call(reply.usage)
        if digest is not None and self.paid_replies is not None:
            self.paid_replies.put(digest, reply)


class _GroupHidingReplyCache:
    """The shared reply cache, minus what the group paid for (the client serves those)."""

    def __init__(self, client: BatchDeferringClient):
        self.client = client

    def get(self, digest: str) -> ModelReply | None:
        if self.client.paid_by_group(digest) or self.client.reply_cache is None:
            return None
        return self.client.reply_cache.get(digest)

    def put(self, digest: str, reply: ModelReply) -> None:
        if self.client.reply_cache is not None:
            self.client.reply_cache.put(digest, reply)


def _as_paid(stage: str, reply: ModelReply) -> ModelReply:
    """A reply the group paid on demand in an earlier pass, served again at its cost."""
    served = reply.model_copy(update={"usage": reply.usage.model_copy(update={"stage": stage})})
    if served.stop_reason == "max_tokens":
        raise TruncatedOutputError(f"{stage}: output cut at max_tokens", reply=served)
    return served


def _one_line(reason: object) -> str:
    return " ".join(str(reason).split())
