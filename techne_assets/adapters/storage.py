"""Object storage: a local folder or an S3 prefix, behind one small interface.

Keys are relative to the storage root and '/' separated, on both sides (a folder refuses keys
with empty, '.' or '..' parts, which S3 allows). Our code never deletes, moves or overwrites an
input object; writes go to the output, the asset store and scratch only.

Change tokens: `StoredObject.etag` is what listing can give for free, so listing 100,000 files
never reads one of them. On S3 it is the object's ETag (without quotes); on a folder it is
"<size hex>-<mtime_ns hex>", which changes whenever the file is replaced. A content hash of a
local file (`sha256`) is computed only by `stat(key, with_hash=True)`, streamingly, and cached
in-process by (path, size, mtime_ns). `content_id` is the best identity each side has: the
local SHA-256, or the S3 ETag (which S3 itself derives from the content).

Failures the user can act on (a file or folder they may not read or write, a bucket that does
not exist, refuses access or cannot be reached) become an `InputError` naming the file or bucket
and the reason, on both sides, so the CLI and the Dagster step each show one line.
Versioned, atomic publication of a document is built on `put_folder` and `delete_prefix` in
adapters/publishing.py.
"""

from __future__ import annotations

import errno
import hashlib
import mimetypes
import os
import shutil
import stat as stat_mode
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import BinaryIO, Protocol

import boto3
from botocore.exceptions import ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from pydantic import BaseModel, ConfigDict

from techne_assets.core.errors import InputError
from techne_assets.core.partition_keys import is_outside_reference

DEFAULT_MEDIA_URL_SECONDS = 6 * 3600
_PARTIAL_SUFFIX = ".partial"
_HASH_CHUNK = 1024 * 1024
_NOT_FOUND_CODES = {"404", "NoSuchKey", "NotFound"}
_REFUSED_CODES = {
    "403",
    "AccessDenied",
    "AllAccessDisabled",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
}
# Errors of the folder the user can fix (rights, a full or read-only disk, a file in the way).
_LOCAL_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT, errno.ENOTDIR}


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

    def put_folder(
        self, prefix: str, files: dict[str, bytes | Path], content_types: dict[str, str]
    ) -> None:
        """Writes `files` (name → content) under a prefix that holds nothing yet."""
        ...

    def delete_prefix(self, prefix: str) -> None:
        """Removes every object under `prefix/`; a refused deletion raises InputError."""
        ...

    def check_writable(self) -> None:
        """Raises InputError when the location refuses writing (a folder) or cannot be reached
        (a bucket), so a run fails before any work is paid for."""
        ...


def video_source(reference: str, input_storage: Storage) -> tuple[Storage, str]:
    """(storage, key) of the video a reference names (see core/partition_keys.py): a key in the
    input, or a whole location — an absolute path, read from its folder, or an S3 URI, read
    from its bucket's root so any key (`a//b` included) stays exactly as it is."""
    if not is_outside_reference(reference):
        return input_storage, reference
    if reference.startswith("s3://"):
        bucket, _, key = reference.removeprefix("s3://").partition("/")
        if not bucket or not key:
            raise InputError(reference, "expected s3://bucket/key of a video object")
        # The outside bucket is read with the input's client settings (same account and region).
        return S3Storage(bucket, region=getattr(input_storage, "region", None)), key
    path = Path(reference)
    return LocalStorage(path.parent), path.name


def storage_from_uri(uri: str, region: str | None = None) -> Storage:
    """`s3://bucket/prefix/` → S3Storage; a folder path (or file:// URI) → LocalStorage.

    Nothing is created here: a local output, store or scratch folder appears on the first write, and a
    missing input folder is reported as an InputError when it is listed or read.
    """
    if uri.startswith("s3://"):
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        if not bucket:
            raise InputError(uri, "no bucket in the S3 URI")
        return S3Storage(bucket, prefix, region=region)
    return LocalStorage(Path(uri.removeprefix("file://")))


def _check_key(key: str) -> str:
    parts = key.split("/")
    if not key or any(part in ("", ".", "..") for part in parts):
        raise ValueError(f"not a relative '/'-separated key: {key!r}")
    return key


def content_type_for(name: str, content_types: dict[str, str] | None = None) -> str:
    if content_types and name in content_types:
        return content_types[name]
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def sha256_stream(stream: BinaryIO) -> tuple[int, str]:
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
        return sha256_stream(stream)[1]


@contextmanager
def _folder_errors(path: Path, doing: str) -> Iterator[None]:
    """A refused read or write of the folder becomes one line naming the path and the reason."""
    try:
        yield
    except OSError as error:
        if isinstance(error, PermissionError) or error.errno in _LOCAL_ERRNOS:
            where = error.filename or path
            raise InputError(str(where), f"cannot {doing}: {error.strerror or error}") from None
        raise


def _partial_name(name: str) -> str:
    return f".{name}.{uuid.uuid4().hex}{_PARTIAL_SUFFIX}"


def _is_partial(name: str) -> bool:
    return name.startswith(".") and name.endswith(_PARTIAL_SUFFIX)


class LocalStorage:
    """A folder. Writes stage under hidden `.<name>.<random>.partial` names, which listings skip;
    any other name is listed, dot-files (`.aula.mp4`, `.aula.vtt`) included."""

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
        with _folder_errors(start, "list the folder"):
            yield from self._walk(start, f"{folder}/" if folder else "", prefix, start_after)

    def _walk(
        self, folder: Path, folder_key: str, prefix: str, start_after: str | None
    ) -> Iterator[StoredObject]:
        try:
            with os.scandir(folder) as scan:
                entries = [entry for entry in scan if not _is_partial(entry.name)]
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
        with _folder_errors(path, "read the file"):
            try:
                info = path.stat()
            except FileNotFoundError:
                raise InputError(str(path), "no such file") from None
            if not stat_mode.S_ISREG(info.st_mode):
                raise InputError(str(path), "not a file")
            sha256 = (
                _sha256_of_file(str(path), info.st_size, info.st_mtime_ns) if with_hash else None
            )
        return self._stored_object(key, info, sha256)

    def open_read(self, key: str) -> BinaryIO:
        path = self._path(key)
        with _folder_errors(path, "read the file"):
            try:
                return open(path, "rb")
            except FileNotFoundError:
                raise InputError(str(path), "no such file") from None

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as stream:
            return stream.read()

    def _replace_atomically(self, path: Path, write) -> None:
        # Written beside the target under a hidden name, then renamed: readers see old or new.
        staging = path.with_name(_partial_name(path.name))
        with _folder_errors(path, "write"):
            path.parent.mkdir(parents=True, exist_ok=True)
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
        with _folder_errors(source, "read the file"):
            try:
                shutil.copyfile(source, path)
            except FileNotFoundError:
                raise InputError(str(source), "no such file") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def put_folder(
        self, prefix: str, files: dict[str, bytes | Path], content_types: dict[str, str]
    ) -> None:
        """Builds the folder under a hidden name beside the target, then renames it into place:
        the folder appears whole or not at all."""
        target = self._path(prefix)
        staging = target.with_name(_partial_name(target.name))
        with _folder_errors(target, "write the folder"):
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                for name, content in files.items():
                    destination = staging.joinpath(*_check_key(name).split("/"))
                    destination.parent.mkdir(parents=True, exist_ok=True)
                    if isinstance(content, bytes):
                        destination.write_bytes(content)
                    else:
                        shutil.copyfile(content, destination)
                # rename refuses a non-empty target: a folder is never merged into another.
                os.rename(staging, target)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise

    def delete_prefix(self, prefix: str) -> None:
        target = self._path(prefix)
        with _folder_errors(target, "delete the folder"):
            if target.exists():
                shutil.rmtree(target)

    def check_writable(self) -> None:
        probe = self.root / _partial_name("write-check")
        with _folder_errors(self.root, "write to the folder"):
            self.root.mkdir(parents=True, exist_ok=True)
            probe.write_bytes(b"")
            probe.unlink()


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


class S3Storage:
    """An S3 bucket and key prefix; endpoint and credentials come from boto3's standard config.

    `client` replaces the boto3 S3 client (tests wrap it to inject faults); `region` is the
    client's region (unset: boto3's own configuration).
    """

    def __init__(self, bucket: str, prefix: str = "", client=None, region: str | None = None):
        self.bucket = bucket
        self.region = region
        stripped = prefix.strip("/")
        self.prefix = f"{stripped}/" if stripped else ""
        self.root_uri = f"s3://{bucket}/{self.prefix}"
        if client is not None:
            self._client = client

    @cached_property
    def _client(self):
        return boto3.client("s3", region_name=self.region)

    def _key(self, key: str) -> str:
        # Any non-empty string is an S3 key ("a//b" and "a/./b" included): no path rules here.
        if not key:
            raise ValueError("an empty S3 key")
        return self.prefix + key

    @contextmanager
    def _errors(self, uri: str, doing: str) -> Iterator[None]:
        """S3 answers the user can act on become one line naming the object or bucket."""
        try:
            yield
        except ClientError as error:
            code = _error_code(error)
            if code in _NOT_FOUND_CODES:
                raise InputError(uri, "no such object") from None
            if code == "NoSuchBucket":
                raise InputError(self.root_uri, "no such bucket") from None
            if code in _REFUSED_CODES:
                message = error.response.get("Error", {}).get("Message", "")
                raise InputError(uri, f"S3 refused to {doing}: {code} {message}".strip()) from None
            raise
        except (BotocoreConnectionError, HTTPClientError) as error:
            raise InputError(
                f"s3://{self.bucket}", f"cannot reach S3 to {doing} (bucket {self.bucket}): {error}"
            ) from None

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
        with self._errors(self.root_uri, "list the bucket"):
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

    def stat(self, key: str, with_hash: bool = False) -> StoredObject:
        # with_hash changes nothing here: the ETag is already S3's own content hash.
        with self._errors(self.uri(key), "read the object"):
            head = self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        return StoredObject(
            key=key,
            size=head["ContentLength"],
            etag=head["ETag"].strip('"'),
            last_modified=head["LastModified"].astimezone(UTC),
        )

    def open_read(self, key: str) -> BinaryIO:
        with self._errors(self.uri(key), "read the object"):
            return self._client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]

    def read_bytes(self, key: str) -> bytes:
        with self._errors(self.uri(key), "read the object"), self.open_read(key) as body:
            return body.read()

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        with self._errors(self.uri(key), "write the object"):
            self._client.put_object(
                Bucket=self.bucket,
                Key=self._key(key),
                Body=data,
                ContentType=content_type or content_type_for(key),
            )

    def upload_file(self, key: str, path: Path, content_type: str | None = None) -> None:
        # boto3's transfer manager streams from disk and switches to multipart above 8 MB.
        with self._errors(self.uri(key), "write the object"):
            self._client.upload_file(
                str(path),
                self.bucket,
                self._key(key),
                ExtraArgs={"ContentType": content_type or content_type_for(key)},
            )

    def download_file(self, key: str, path: Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with self._errors(self.uri(key), "read the object"):
            self._client.download_file(self.bucket, self._key(key), str(path))

    def exists(self, key: str) -> bool:
        try:
            with self._errors(self.uri(key), "read the object"):
                self._client.head_object(Bucket=self.bucket, Key=self._key(key))
        except InputError as error:
            if error.reason == "no such object":
                return False
            raise
        return True

    def put_folder(
        self, prefix: str, files: dict[str, bytes | Path], content_types: dict[str, str]
    ) -> None:
        """Uploads every file under the prefix; S3 has no rename, so the caller's pointer
        (written after this returns) is what makes the set visible."""
        for name, content in files.items():
            key = f"{prefix}/{_check_key(name)}"
            if isinstance(content, bytes):
                self.write_bytes(key, content, content_types[name])
            else:
                self.upload_file(key, content, content_types[name])

    def delete_prefix(self, prefix: str) -> None:
        """DeleteObjects in batches of 1,000; its answer is 200 even when keys were refused, so
        the per-key `Errors` are checked and the first one is raised."""
        keys = [obj.key for obj in self.list_objects(f"{prefix.strip('/')}/")]
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            with self._errors(self.uri(prefix), "delete old objects"):
                answer = self._client.delete_objects(
                    Bucket=self.bucket,
                    Delete={"Objects": [{"Key": self._key(key)} for key in batch], "Quiet": True},
                )
            refused = answer.get("Errors", [])
            if refused:
                first = refused[0]
                raise InputError(
                    f"s3://{self.bucket}/{first.get('Key', '')}",
                    f"S3 refused to delete {len(refused)} of {len(batch)} old objects: "
                    f"{first.get('Code', '')} {first.get('Message', '')}".strip()
                    + " (the role needs s3:DeleteObject on the output bucket)",
                )

    def check_writable(self) -> None:
        """The bucket exists and answers; S3 refuses a write itself only when it is made."""
        try:
            with self._errors(self.root_uri, "reach the bucket"):
                self._client.head_bucket(Bucket=self.bucket)
        except InputError as error:
            if error.reason == "no such object":
                raise InputError(self.root_uri, "no such bucket") from None
            raise
