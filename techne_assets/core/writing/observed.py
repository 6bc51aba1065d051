"""A model client that reports every paid call the moment it returns.

The staged writer records usage in its draft, which is stored only when the writer finishes;
a run that fails or is killed half-way must still account for what it paid. Wrapping the
client (instead of the writer) catches exactly the calls that reached the service: answers
from the reply cache are not reported, and a reply cut at its token limit is (it was paid).
"""

from __future__ import annotations

from collections.abc import Callable

from techne_assets.core.writing.base import CallUsage, ModelClient, ModelReply, TruncatedOutputError

CallObserver = Callable[[CallUsage], None]


class ObservedModelClient:
    """Delegates to `client`; hands each returned call's usage to `on_call`."""

    def __init__(self, client: ModelClient, on_call: CallObserver):
        self.client = client
        self.model_id = client.model_id
        self.on_call = on_call

    def __getattr__(self, name: str):
        # Everything but `converse` (limits, model facts) is the wrapped client's.
        return getattr(self.client, name)

    def converse(self, **request) -> ModelReply:
        try:
            reply = self.client.converse(**request)
        except TruncatedOutputError as error:
            self.on_call(error.reply.usage)
            raise
        self.on_call(reply.usage)
        return reply
