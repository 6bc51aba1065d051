"""Model replies kept in the durable asset store (a folder or S3), keyed by the digest of the
request; the store never expires, so a prompt change months later still pays only for what changed."""

from __future__ import annotations

from techne_assets.adapters.storage import Storage
from techne_assets.core.writing.base import ModelReply

PREFIX = "model-replies"


class StorageReplyCache:
    def __init__(self, storage: Storage):
        self.storage = storage

    def _key(self, digest: str) -> str:
        return f"{PREFIX}/{digest[:2]}/{digest}.json"

    def get(self, digest: str) -> ModelReply | None:
        key = self._key(digest)
        if not self.storage.exists(key):
            return None
        return ModelReply.model_validate_json(self.storage.read_bytes(key))

    def put(self, digest: str, reply: ModelReply) -> None:
        self.storage.write_bytes(self._key(digest), reply.model_dump_json().encode("utf-8"), "application/json")
