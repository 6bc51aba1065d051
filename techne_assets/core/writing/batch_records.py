"""Record ids and answers of Bedrock batch inference, independent of how jobs are run.

Bedrock batch reads JSONL lines `{"recordId": ..., "modelInput": {...}}` and writes back one
line per record with the same `recordId` and either `modelOutput` or `error`; the output order
is not guaranteed to match the input, so the record id is the only link from an answer back to
its request. The documentation describes record ids as alphanumeric strings (its examples use
11 characters); this module keeps them to `[A-Za-z0-9]`, at most `RECORD_ID_MAX_LENGTH` long.

A record id reads, left to right:
- 10 hex characters of the partition key's SHA-256 (partition keys are file names, far longer
  and with characters the service does not promise to keep);
- one stage code letter (`STAGE_CODES`), with lower case for a `:repair` stage;
- 4 characters for the call within the stage: the chunk number and half for extraction
  ("extract:chunk-07b" → "007b"), else 4 hex characters of the stage label's hash;
- 16 hex characters of the request digest, which is what the answer is stored under.
The full mapping record id → (partition, stage label, digest) is kept by the caller (the
batch ledger's pass results); the id only has to be deterministic and distinct.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import BaseModel, model_validator

from techne_assets.core.writing.base import ModelReply

RECORD_ID_MAX_LENGTH = 64
RECORD_ID_PATTERN = re.compile(r"[A-Za-z0-9]{1,64}")
STAGE_CODES = {"extract": "X", "merge": "M", "write": "W", "review": "R"}
OTHER_STAGE_CODE = "O"
_CHUNK_LABEL = re.compile(r"chunk-(\d{1,3})([ab]?)")


def _hex(text: str, length: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


def _stage_code(stage_label: str) -> str:
    code = STAGE_CODES.get(stage_label.split(":", 1)[0], OTHER_STAGE_CODE)
    return code.lower() if stage_label.endswith(":repair") else code


def _call_code(stage_label: str) -> str:
    within = stage_label.removesuffix(":repair").partition(":")[2]
    if stage_label.startswith("extract:") and (match := _CHUNK_LABEL.fullmatch(within)):
        return f"{int(match.group(1)):03d}{match.group(2) or '0'}"
    return _hex(within, 4)


def record_id(partition_key: str, stage_label: str, digest: str) -> str:
    """The batch record id of one request: deterministic, alphanumeric, ≤ 64 characters."""
    if not re.fullmatch(r"[0-9a-fA-F]{16,}", digest):
        raise ValueError(f"not a request digest (hex, at least 16 characters): {digest!r}")
    return (
        _hex(partition_key, 10)
        + _stage_code(stage_label)
        + _call_code(stage_label)
        + digest[:16].lower()
    )


class BatchAnswer(BaseModel):
    """What batch inference gave for one request: its reply, or why it has none."""

    digest: str
    record_id: str
    stage: str
    reply: ModelReply | None = None
    error: str | None = None

    @model_validator(mode="after")
    def _exactly_one_outcome(self) -> BatchAnswer:
        if (self.reply is None) == (self.error is None):
            raise ValueError("a batch answer holds either a reply or an error, not both or neither")
        return self
