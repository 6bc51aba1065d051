"""Storage key → Dagster partition key: deterministic, readable, valid and collision-free."""

from __future__ import annotations

import hashlib
import re
import unicodedata

MAX_KEY_LENGTH = 180
HASH_LENGTH = 8
HASH_SEPARATOR = "~"

# Dagster rejects `...` and control characters in dynamic partition keys, and `,` `|` `[` `]`
# break partition ranges and backfills. Letters (accents included), digits, space and a few
# separators are kept so keys stay readable in the UI and on the command line.
_DISALLOWED = re.compile(r"[^\w\-. /()+=@&'~]", re.UNICODE)
_DOT_RUN = re.compile(r"\.{2,}")
_SPACE_RUN = re.compile(r"\s+")
_DASH_RUN = re.compile(r"-{2,}")


def _slug(storage_key: str) -> str:
    text = unicodedata.normalize("NFC", storage_key)
    text = "".join(" " if unicodedata.category(ch).startswith("C") else ch for ch in text)
    text = _DISALLOWED.sub("-", text)
    text = _DOT_RUN.sub(".", text)
    text = _SPACE_RUN.sub(" ", text)
    text = _DASH_RUN.sub("-", text)
    text = "/".join(part.strip(" ") for part in text.split("/"))
    return text.strip(" /")


def partition_key_for(storage_key: str) -> str:
    """The partition key of a stored video.

    The key itself when it is already valid; otherwise a slug plus a short hash of the original
    key, so two keys that slug alike still get different partitions.
    """
    if not storage_key or not storage_key.strip():
        raise ValueError("an empty storage key has no partition key")
    slug = _slug(storage_key)
    if slug == storage_key and HASH_SEPARATOR not in slug and len(slug) <= MAX_KEY_LENGTH:
        return slug
    digest = hashlib.sha256(storage_key.encode("utf-8")).hexdigest()[:HASH_LENGTH]
    room = MAX_KEY_LENGTH - HASH_LENGTH - len(HASH_SEPARATOR)
    return f"{slug[:room].rstrip(' ./')}{HASH_SEPARATOR}{digest}"


def is_valid_partition_key(key: str) -> bool:
    """What Dagster and our backfills accept."""
    return (
        bool(key)
        and "..." not in key
        and not any(unicodedata.category(ch) == "Cc" for ch in key)
        and not any(ch in key for ch in ",|[]")
    )
