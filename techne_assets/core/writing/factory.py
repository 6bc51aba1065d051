"""The one place a writer is built: the `draft` asset, `techne eval` and the benchmarks all
come here, so they run the same writer with the same limits."""

from __future__ import annotations

from typing import Any, Literal

from techne_assets.core.writing.base import ModelClient, ReplyCache, Writer
from techne_assets.core.writing.observed import CallObserver, ObservedModelClient

WriterKind = Literal["offline", "bedrock"]


def make_writer(
    kind: WriterKind,
    *,
    client: ModelClient | None = None,
    max_output_tokens: int,
    chunk_max_tokens: int,
    chunk_overlap_tokens: int = 0,
    reply_cache: ReplyCache | None = None,
    on_call: CallObserver | None = None,
    tokens_per_minute: int | None = None,
    output_burndown: float = 5.0,
    **model_writer_options: Any,
) -> Writer:
    """`offline`, or the staged model writer over `client` (its paid calls reported to
    `on_call` as they return). `max_output_tokens` is the model client's own limit, so a
    stage's retry with a larger budget is never larger than what the client allows;
    `tokens_per_minute` and `output_burndown` are the client's quota, which the extraction
    chunks are sized against (None: chunks of `chunk_max_tokens`)."""
    if kind == "offline":
        from techne_assets.core.writing.offline import OfflineWriter

        return OfflineWriter()
    if client is None:
        raise ValueError("the model writer needs a model client")
    from techne_assets.core.writing.staged import StagedModelWriter

    return StagedModelWriter(
        ObservedModelClient(client, on_call) if on_call else client,
        chunk_max_tokens=chunk_max_tokens,
        chunk_overlap_tokens=chunk_overlap_tokens,
        max_output_tokens=max_output_tokens,
        reply_cache=reply_cache,
        tokens_per_minute=tokens_per_minute,
        output_burndown=output_burndown,
        **model_writer_options,
    )
