"""Video reference ⇄ Dagster partition key: reversible, valid, readable and collision-free.

A *video reference* says where a video is: its key inside the input location (`2024/aula.mp4`),
or, for a video anywhere else, its whole location — an absolute path (`/calls/x/call.mp4`) or
an S3 URI (`s3://bucket/x/call.mp4`). The partition key is the reference with what Dagster
forbids or misreads percent-encoded: `%` itself, `~` (our shortening mark), `,` `|` `[` `]`
(they break partition ranges and backfills), control and other invisible characters, and dot
runs of three or more (Dagster rejects `...`). Everything else stays as it is, so most keys
read like the file they stand for. Decoding is plain percent-decoding.

Past `MAX_KEY_LENGTH` the encoded reference is cut and ends with `~` and a SHA-256 of the whole
reference: still unique, but no longer reversible by itself. A run of such a partition must
carry the full reference in its `techne/video_key` tag (the sensors and `techne process` set
it; a backfill has no per-partition tags, so it cannot run one), and the `video` asset reads it
from there, after checking that it encodes to the run's partition.

Hand-written rather than `urllib.parse.quote`: quote cannot leave readable characters (spaces,
accents, `/`) alone while encoding dot runs, and it has no notion of a length limit.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Mapping
from urllib.parse import unquote

from techne_assets.core.errors import InputError

# S3 keys may be up to 1,024 bytes; a longer key is rare enough to need the run's tag.
MAX_KEY_LENGTH = 1024
HASH_LENGTH = 16
HASH_SEPARATOR = "~"
VIDEO_KEY_TAG = "techne/video_key"

_ALWAYS_ESCAPED = frozenset("%~,|[]")
_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_DOT_RUN = re.compile(r"\.{3,}")
_OUTSIDE_PREFIXES = ("/", "s3://")


def _escape_char(ch: str) -> str:
    return "".join(f"%{byte:02X}" for byte in ch.encode("utf-8", "surrogatepass"))


def _needs_escape(ch: str) -> bool:
    return ch in _ALWAYS_ESCAPED or unicodedata.category(ch) in _ESCAPED_CATEGORIES


def _encode(reference: str) -> str:
    text = "".join(_escape_char(ch) if _needs_escape(ch) else ch for ch in reference)
    return _DOT_RUN.sub(lambda run: "%2E" * len(run.group()), text)


def _digest(reference: str) -> str:
    return hashlib.sha256(reference.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]


def partition_key_for(reference: str) -> str:
    """The partition key of a video reference (see the module docstring)."""
    if not reference or not reference.strip():
        raise ValueError("an empty video reference has no partition key")
    encoded = _encode(reference)
    if len(encoded) <= MAX_KEY_LENGTH:
        return encoded
    cut = encoded[: MAX_KEY_LENGTH - len(HASH_SEPARATOR) - HASH_LENGTH]
    # Never leave half of a %XX escape at the cut.
    escape_start = cut.rfind("%", max(0, len(cut) - 2))
    if escape_start != -1:
        cut = cut[:escape_start]
    return f"{cut}{HASH_SEPARATOR}{_digest(reference)}"


def is_shortened(partition_key: str) -> bool:
    """The key was cut at the length limit: only the run's `techne/video_key` tag names the video."""
    return HASH_SEPARATOR in partition_key


def reference_for(partition_key: str) -> str | None:
    """The video reference a partition key encodes; None for a shortened key."""
    if is_shortened(partition_key):
        return None
    return unquote(partition_key, encoding="utf-8", errors="surrogatepass")


def reference_of_run(partition_key: str, tags: Mapping[str, str]) -> str:
    """The video reference of a run of `partition_key`: decoded from the key itself, or, for a
    shortened key, the run's `techne/video_key` tag once it is checked to belong to the key."""
    reference = reference_for(partition_key)
    if reference is not None:
        return reference
    tagged = tags.get(VIDEO_KEY_TAG)
    if tagged is None or partition_key_for(tagged) != partition_key:
        raise InputError(
            partition_key,
            f"a shortened partition key names its video only through the run's {VIDEO_KEY_TAG} "
            "tag, and this run has none for it: start it from the sensor, `techne process` or "
            f"with the tag {VIDEO_KEY_TAG}=<the video's key>",
        )
    return tagged


def is_outside_reference(reference: str) -> bool:
    """The reference is a whole location (absolute path or S3 URI), not a key in the input."""
    return reference.startswith(_OUTSIDE_PREFIXES)


def input_video_reference(key: str, input_root_uri: str) -> str:
    """The reference of the object `key` of the input at `input_root_uri`.

    The key itself, unless it starts like a whole location (an S3 key may begin with `/` or
    even `s3://`): then the object's full URI, so it can never be mistaken for another video.
    """
    if is_outside_reference(key):
        return f"{input_root_uri.rstrip('/')}/{key}"
    return key


def storage_prefix(partition_key: str) -> str:
    """A '/'-separated key prefix for the partition's files in any storage (a folder too).

    Parts a folder refuses or hides (empty, `.`, `..`, a leading dot) get a `%` in front; no
    partition-key part starts with a `%` that is not an `%XX` escape, so this stays collision-free.
    """
    return "/".join(
        f"%{part}" if not part or part.startswith(".") else part
        for part in partition_key.split("/")
    )


def is_valid_partition_key(key: str) -> bool:
    """What Dagster and our backfills accept."""
    return (
        bool(key)
        and "..." not in key
        and not any(unicodedata.category(ch) == "Cc" for ch in key)
        and not any(ch in key for ch in ",|[]")
    )
