"""Atomic, versioned publication of a document's files in any Storage (a folder or S3).

Layout under a partition's prefix:

    <prefix>/v<N>/...          every file of version N, written before the pointer names it
    <prefix>/manifest.json     the pointer, written last: its version and each file's SHA-256

A reader goes through the pointer, so it sees the previous version, whole, until the new one is
complete; a publication that fails half-way leaves a version folder nobody points at, removed
with the old versions. On a folder a version appears by one rename; on S3, which has no rename,
the pointer's single PUT is the switch. The newest `versions_kept` versions stay (a reader that
read the previous pointer can finish reading); older ones are deleted.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from techne_assets.adapters.storage import Storage, content_type_for, sha256_stream
from techne_assets.core.errors import InputError

MANIFEST_NAME = "manifest.json"
DEFAULT_VERSIONS_KEPT = 3
_VERSION_FOLDER = re.compile(r"v(\d+)")


class PublishedFile(BaseModel):
    size: int
    sha256: str
    content_type: str


class Manifest(BaseModel):
    """The pointer: which version is current, and what each of its files must hash to."""

    version: int
    created_at: str
    files: dict[str, PublishedFile]

    def key(self, prefix: str, name: str) -> str:
        return f"{prefix}/v{self.version}/{name}"


def _check_names(files: dict[str, bytes | Path]) -> None:
    for name in files:
        parts = name.split("/")
        if not name or any(part in ("", ".", "..") for part in parts):
            raise ValueError(f"not a relative '/'-separated file name: {name!r}")


def _describe(files: dict[str, bytes | Path], content_types: dict[str, str] | None):
    # Hashed before anything is written: an unreadable file fails with nothing written.
    described: dict[str, PublishedFile] = {}
    for name, content in files.items():
        if isinstance(content, bytes):
            size, sha256 = len(content), hashlib.sha256(content).hexdigest()
        else:
            with open(content, "rb") as stream:
                size, sha256 = sha256_stream(stream)
        described[name] = PublishedFile(
            size=size, sha256=sha256, content_type=content_type_for(name, content_types)
        )
    return described


def _versions(storage: Storage, prefix: str) -> set[int]:
    """Version numbers with at least one object under `<prefix>/v<N>/`."""
    found = set()
    for obj in storage.list_objects(f"{prefix}/v"):
        folder = obj.key.removeprefix(f"{prefix}/").split("/", 1)[0]
        if match := _VERSION_FOLDER.fullmatch(folder):
            found.add(int(match.group(1)))
    return found


def read_manifest(storage: Storage, prefix: str) -> Manifest | None:
    prefix = prefix.strip("/")
    try:
        return Manifest.model_validate_json(storage.read_bytes(f"{prefix}/{MANIFEST_NAME}"))
    except InputError as error:
        if error.reason in ("no such file", "no such object"):
            return None
        raise


def read_published(storage: Storage, prefix: str, name: str) -> bytes:
    """A file of the current version, checked against the pointer's SHA-256."""
    prefix = prefix.strip("/")
    manifest = read_manifest(storage, prefix)
    if manifest is None or name not in manifest.files:
        raise InputError(storage.uri(f"{prefix}/{name}"), "not published")
    data = storage.read_bytes(manifest.key(prefix, name))
    if hashlib.sha256(data).hexdigest() != manifest.files[name].sha256:
        raise InputError(storage.uri(manifest.key(prefix, name)), "content differs from the manifest")
    return data


def publish(
    storage: Storage,
    prefix: str,
    files: dict[str, bytes | Path],
    *,
    content_types: dict[str, str] | None = None,
    versions_kept: int = DEFAULT_VERSIONS_KEPT,
) -> dict[str, str]:
    """Publishes `files` (name → content) as the partition's next version; returns name → URI
    of each file of that version (stable for as long as the version is kept)."""
    prefix = prefix.strip("/")
    if not prefix:
        raise ValueError("publish needs a non-empty prefix")
    if versions_kept < 1:
        raise ValueError("at least the current version is kept")
    _check_names(files)
    described = _describe(files, content_types)
    storage.check_writable()
    previous = read_manifest(storage, prefix)
    existing = _versions(storage, prefix) | ({previous.version} if previous else set())
    version = max(existing, default=0) + 1
    storage.put_folder(
        f"{prefix}/v{version}", files, {name: d.content_type for name, d in described.items()}
    )
    manifest = Manifest(
        version=version, created_at=datetime.now(UTC).isoformat(), files=described
    )
    storage.write_bytes(
        f"{prefix}/{MANIFEST_NAME}", manifest.model_dump_json(indent=2).encode(), "application/json"
    )
    for old in sorted(existing | {version}, reverse=True)[versions_kept:]:
        storage.delete_prefix(f"{prefix}/v{old}")
    return {name: storage.uri(manifest.key(prefix, name)) for name in files}
