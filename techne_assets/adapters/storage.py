"""Object storage: a local folder or an S3 prefix, behind one small interface.

Keys are relative to the storage root and '/' separated, on both sides (a folder refuses keys
with empty, '.' or '..' parts, which S3 allows). Our code never deletes, moves or overwrites an
input object; writes go to work and output storages only.

Change tokens: `StoredObject.etag` is what listing can give for free, so listing 100,000 files
never reads one of them. On S3 it is the object's ETag (without quotes); on a folder it is
"<size hex>-<mtime_ns hex>", which changes whenever the file is replaced. A content hash of a
local file (`sha256`) is computed only by `stat(key, with_hash=True)`, streamingly, and cached
in-process by (path, size, mtime_ns). `content_id` is the best identity each side has: the
local SHA-256, or the S3 ETag (which S3 itself derives from the content).
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import shutil
import stat as stat_mode
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from techne_assets.core.errors import InputError

MANIFEST_NAME = "manifest.json"
DEFAULT_MEDIA_URL_SECONDS = 6 * 3600
_HASH_CHUNK = 1024 * 1024
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}


class StoredObject(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    size: int
    etag: str
    last_modified: datetime
    sha256: str | None = None

    @property
    def content_id(self) -> str:
        """The local SHA-256 when computed, else the ETag (S3) or change token (local)."""
        return self.sha256 or self.etag


class PublishedFile(BaseModel):
    size: int
    sha256: str
    content_type: str


class Manifest(BaseModel):
    """Written last by `publish`: its presence means every file it lists is in place."""

    created_at: str
    files: dict[str, PublishedFile]


class Storage(Protocol):
    root_uri: str

    def list_objects(
        self, prefix: str = "", start_after: str | None = None
    ) -> Iterator[StoredObject]:
        """Objects under `prefix` (a plain string prefix of the key), sorted by key, page by page.

        Raises InputError, when iterated, if the folder or bucket does not exist.
        """
        ...

    def stat(self, key: str, with_hash: bool = False) -> StoredObject: ...

    def uri(self, key: str) -> str: ...

    def media_url(self, key: str, expires_seconds: int = DEFAULT_MEDIA_URL_SECONDS) -> str:
        """A location ffmpeg can read directly, with range requests on S3."""
        ...

    def open_read(self, key: str) -> BinaryIO: ...

    def read_bytes(self, key: str) -> bytes: ...

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None: ...

    def upload_file(self, key: str, path: Path, content_type: str | None = None) -> None: ...

    def download_file(self, key: str, path: Path) -> None: ...

    def exists(self, key: str) -> bool: ...

    def publish(
        self,
        prefix: str,
        files: dict[str, bytes | Path],
        content_types: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """Writes a set of files so a reader never sees half of it; returns name → URI."""
        ...

    def read_manifest(self, prefix: str) -> Manifest | None: ...


def storage_from_uri(uri: str) -> Storage:
    """`s3://bucket/prefix/` → S3Storage; a folder path (or file:// URI) → LocalStorage.

    Nothing is created here: a local output or work folder appears on the first write, and a
    missing input folder is reported as an InputError when it is listed or read.
    """
    if uri.startswith("s3://"):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise InputError(uri, "no bucket in the S3 URI")
        return S3Storage(bucket, prefix)
    return LocalStorage(Path(uri.removeprefix("file://")))


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a relative '/'-separated key: {key!r}")
    return key


def _check_publish_names(files: dict[str, bytes | Path]) -> None:
    for name in files:
        _check_key(name)
        if name == MANIFEST_NAME:
            raise ValueError(f"{MANIFEST_NAME} is written by publish itself")


def _content_type(name: str, content_types: dict[str, str] | None) -> str:
    if content_types and name in content_types:
        return content_types[name]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def _utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _sha256_stream(stream: BinaryIO) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    while chunk := stream.read(_HASH_CHUNK):
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


@lru_cache(maxsize=4096)
def _sha256_of_file(path: str, size: int, mtime_ns: int) -> str:
    # size and mtime_ns are part of the cache key: a replaced file is hashed again.
    with open(path, "rb") as stream:
        return _sha256_stream(stream)[1]


class LocalStorage:
    """A folder. Names starting with '.' are hidden from listings (publish stages files there)."""

    def __init__(self, root: Path | str):
        self.root = Path(root).expanduser().resolve()
        self.root_uri = str(self.root)

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*_check_key(key).split("/"))

    def uri(self, key: str) -> str:
        return str(self._path(key))

    def media_url(self, key: str, expires_seconds: int = DEFAULT_MEDIA_URL_SECONDS) -> str:
        return self.uri(key)

    def list_objects(
        self, prefix: str = "", start_after: str | None = None
    ) -> Iterator[StoredObject]:
        if not self.root.is_dir():
            raise InputError(self.root_uri, "no such folder")
        # Start at the deepest folder the prefix names in full; filter the rest by string prefix.
        folder, _, _ = prefix.rpartition("/")
        start = self._path(folder) if folder else self.root
        yield from self._walk(start, f"{folder}/" if folder else "", prefix, start_after)

    def _walk(
        self, folder: Path, folder_key: str, prefix: str, start_after: str | None
    ) -> Iterator[StoredObject]:
        try:
            with os.scandir(folder) as scan:
                entries = [entry for entry in scan if not entry.name.startswith(".")]
        except (FileNotFoundError, NotADirectoryError):
            return
        # A folder sorts as "name/", so a depth-first walk yields keys in global string order.
        named = sorted(
            ((f"{entry.name}/" if entry.is_dir() else entry.name), entry) for entry in entries
        )
        for sort_name, entry in named:
            key = folder_key + sort_name
            if key.endswith("/"):
                if not (key.startswith(prefix) or prefix.startswith(key)):
                    continue
                if (
                    start_after is not None
                    and key < start_after
                    and not start_after.startswith(key)
                ):
                    continue
                yield from self._walk(Path(entry.path), key, prefix, start_after)
                continue
            if not key.startswith(prefix) or (start_after is not None and key <= start_after):
                continue
            if entry.is_file():
                yield self._stored_object(key, entry.stat())

    def _stored_object(
        self, key: str, info: os.stat_result, sha256: str | None = None
    ) -> StoredObject:
        return StoredObject(
            key=key,
            size=info.st_size,
            etag=f"{info.st_size:x}-{info.st_mtime_ns:x}",
            last_modified=datetime.fromtimestamp(info.st_mtime_ns / 1e9, UTC),
            sha256=sha256,
        )

    def stat(self, key: str, with_hash: bool = False) -> StoredObject:
        path = self._path(key)
        try:
            info = path.stat()
        except FileNotFoundError:
            raise InputError(str(path), "no such file") from None
        if not stat_mode.S_ISREG(info.st_mode):
            raise InputError(str(path), "not a file")
        sha256 = _sha256_of_file(str(path), info.st_size, info.st_mtime_ns) if with_hash else None
        return self._stored_object(key, info, sha256)

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        try:
            return open(path, "rb")
        except FileNotFoundError:
            raise InputError(str(path), "no such file") from None

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def _replace_atomically(self, path: Path, write) -> None:
        # Written beside the target under a hidden name, then renamed: readers see old or new.
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
        try:
            write(staging)
            os.replace(staging, path)
        except BaseException:
            staging.unlink(missing_ok=True)
            raise

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._replace_atomically(self._path(key), lambda staging: staging.write_bytes(data))

    def upload_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        self._replace_atomically(self._path(key), lambda staging: shutil.copyfile(path, staging))

    def download_file(self, key: str, path: Path) -> None:
        source = self._path(key)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copyfile(source, path)
        except FileNotFoundError:
            raise InputError(str(source), "no such file") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def publish(
        self,
        prefix: str,
        files: dict[str, bytes | Path],
        content_types: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """Builds the folder under a hidden name beside the target, then renames it into place.

        The previous folder stays untouched until the new one is complete; during the swap
        (two renames) the folder is briefly absent, never half written.
        """
        prefix = _check_key(prefix.strip("/"))
        _check_publish_names(files)
        target = self._path(prefix)
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{target.name}.publishing-{uuid.uuid4().hex}")
        try:
            published: dict[str, PublishedFile] = {}
            for name, content in files.items():
                destination = staging.joinpath(*name.split("/"))
                destination.parent.mkdir(parents=True, exist_ok=True)
                if isinstance(content, bytes):
                    destination.write_bytes(content)
                else:
                    shutil.copyfile(content, destination)
                with open(destination, "rb") as written:
                    size, sha256 = _sha256_stream(written)
                published[name] = PublishedFile(
                    size=size, sha256=sha256, content_type=_content_type(name, content_types)
                )
            manifest = Manifest(created_at=_utc_now_iso(), files=published)
            (staging / MANIFEST_NAME).write_text(
                manifest.model_dump_json(indent=2), encoding="utf-8"
            )
            self._swap_into_place(staging, target)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return {name: self.uri(f"{prefix}/{name}") for name in files}

    @staticmethod
    def _swap_into_place(staging: Path, target: Path) -> None:
        if not target.exists():
            os.rename(staging, target)
            return
        retired = target.with_name(f".{target.name}.previous-{uuid.uuid4().hex}")
        os.rename(target, retired)
        try:
            os.rename(staging, target)
        except BaseException:
            os.rename(retired, target)
            raise
        shutil.rmtree(retired, ignore_errors=True)

    def read_manifest(self, prefix: str) -> Manifest | None:
        path = self._path(f"{prefix.strip('/')}/{MANIFEST_NAME}")
        try:
            return Manifest.model_validate_json(path.read_bytes())
        except FileNotFoundError:
            return None


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Storage:
    """An S3 bucket and key prefix; endpoint and credentials come from boto3's standard config."""

    def __init__(self, bucket: str, prefix: str = ""):
        self.bucket = bucket
        stripped = prefix.strip("/")
        self.prefix = f"{stripped}/" if stripped else ""
        self.root_uri = f"s3://{bucket}/{self.prefix}"

    @cached_property
    def _client(self):
        return boto3.client("s3")

    def _key(self, key: str) -> str:
        # Any non-empty string is an S3 key ("a//b" and "a/./b" included): no path rules here.
        if not key:
            raise ValueError("an empty S3 key")
        return self.prefix + key

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def media_url(self, key: str, expires_seconds: int = DEFAULT_MEDIA_URL_SECONDS) -> str:
        # A presigned URL stops working when the signing credentials expire (role sessions),
        # whichever comes first.
        return self._client.generate_presigned_url(
            "get_object",
            Params={"Bucket": self.bucket, "Key": self._key(key)},
            ExpiresIn=expires_seconds,
        )

    def list_objects(
        self, prefix: str = "", start_after: str | None = None
    ) -> Iterator[StoredObject]:
        arguments = {"Bucket": self.bucket, "Prefix": self.prefix + prefix}
        if start_after is not None:
            arguments["StartAfter"] = self.prefix + start_after
        pages = self._client.get_paginator("list_objects_v2").paginate(**arguments)
        try:
            for page in pages:
                for item in page.get("Contents", []):
                    if item["Key"].endswith("/"):
                        continue  # a "folder" marker made by the console, not an object
                    yield StoredObject(
                        key=item["Key"].removeprefix(self.prefix),
                        size=item["Size"],
                        etag=item["ETag"].strip('"'),
                        last_modified=item["LastModified"].astimezone(UTC),
                    )
        except ClientError as error:
            if _error_code(error) == "NoSuchBucket":
                raise InputError(self.root_uri, "no such bucket") from None
            raise

    def stat(self, key: str, with_hash: bool = False) -> StoredObject:
        # with_hash changes nothing here: the ETag is already S3's own content hash.
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                raise InputError(self.uri(key), "no such object") from None
            raise
        return StoredObject(
            key=key,
            size=head["ContentLength"],
            etag=head["ETag"].strip('"'),
            last_modified=head["LastModified"].astimezone(UTC),
        )

    def open_read(self, key: str) -> BinaryIO:
        try:
            return self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                raise InputError(self.uri(key), "no such object") from None
            raise

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as body:
            return body.read()

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        self._client.put_object(
            Bucket=self.bucket,
            Key=self._key(key),
            Body=data,
            ContentType=content_type or _content_type(key, None),
        )

    def upload_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        # boto3's transfer manager streams from disk and switches to multipart above 8 MB.
        self._client.upload_file(
            str(path),
            self.bucket,
            self._key(key),
            ExtraArgs={"ContentType": content_type or _content_type(key, None)},
        )

    def download_file(self, key: str, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._client.download_file(self.bucket, self._key(key), str(path))
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                raise InputError(self.uri(key), "no such object") from None
            raise

    def exists(self, key: str) -> bool:
        try:
            self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as error:
            if _error_code(error) in _NOT_FOUND_CODES:
                return False
            raise
        return True

    def publish(
        self,
        prefix: str,
        files: dict[str, bytes | Path],
        content_types: dict[str, str] | None = None,
    ) -> dict[str, str]:
        """Uploads every file, then `manifest.json` last: the manifest marks the set complete.

        Local files are hashed before anything is uploaded, so an unreadable file fails the
        publish with nothing written. Files of the previous version that the new one no longer
        has are deleted after the new manifest is in place.
        """
        prefix = prefix.strip("/")
        if not prefix:
            raise ValueError("publish needs a non-empty prefix")
        _check_publish_names(files)
        published: dict[str, PublishedFile] = {}
        for name, content in files.items():
            if isinstance(content, bytes):
                size, sha256 = len(content), hashlib.sha256(content).hexdigest()
            else:
                with open(content, "rb") as stream:
                    size, sha256 = _sha256_stream(stream)
            published[name] = PublishedFile(
                size=size, sha256=sha256, content_type=_content_type(name, content_types)
            )
        previous = self.read_manifest(prefix)
        for name, content in files.items():
            key = f"{prefix}/{name}"
            if isinstance(content, bytes):
                self.write_bytes(key, content, published[name].content_type)
            else:
                self.upload_file(key, content, published[name].content_type)
        manifest = Manifest(created_at=_utc_now_iso(), files=published)
        self.write_bytes(
            f"{prefix}/{MANIFEST_NAME}",
            manifest.model_dump_json(indent=2).encode(),
            "application/json",
        )
        if previous is not None:
            self._delete_keys([f"{prefix}/{name}" for name in previous.files.keys() - files.keys()])
        return {name: self.uri(f"{prefix}/{name}") for name in files}

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            batch = keys[start : start + 1000]
            self._client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": self._key(key)} for key in batch], "Quiet": True},
            )

    def read_manifest(self, prefix: str) -> Manifest | None:
        try:
            return Manifest.model_validate_json(
                self.read_bytes(f"{prefix.strip('/')}/{MANIFEST_NAME}")
            )
        except InputError:
            return None
