"""Versioned, atomic publication: a folder and S3 (moto over HTTP), faults injected in the client."""

from __future__ import annotations

import hashlib
import json
import os

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from techne_assets.adapters import storage as storage_module
from techne_assets.adapters.publishing import (
    MANIFEST_NAME,
    publish,
    read_manifest,
    read_published,
)
from techne_assets.adapters.storage import LocalStorage, S3Storage
from techne_assets.core.errors import InputError

BUCKET = "techne-publishing-test"
FILES_V1 = {"document.md": b"# v1", "document.html": b"<p>v1</p>", "screenshots/a.png": b"png1"}
FILES_V2 = {"document.md": b"# v2", "document.html": b"<p>v2</p>", "screenshots/a.png": b"png2"}


class FaultyS3Client:
    """The real boto3 client, except for the faults a test asks for."""

    def __init__(self, client, drop_upload_of: str | None = None, refuse_deletes: bool = False):
        self._client = client
        self.drop_upload_of = drop_upload_of
        self.refuse_deletes = refuse_deletes
        self.operations: list[tuple[str, str | None]] = []

    def __getattr__(self, name):
        return getattr(self._client, name)

    def put_object(self, **arguments):
        self.operations.append(("put_object", arguments["Key"]))
        if self.drop_upload_of and arguments["Key"].endswith(self.drop_upload_of):
            raise EndpointConnectionError(endpoint_url="http://s3.dropped")
        return self._client.put_object(**arguments)

    def delete_objects(self, **arguments):
        keys = [item["Key"] for item in arguments["Delete"]["Objects"]]
        self.operations.append(("delete_objects", ",".join(keys)))
        if self.refuse_deletes:
            # What S3 answers (HTTP 200) when the role may not delete: one error per key.
            return {
                "Errors": [
                    {"Key": key, "Code": "AccessDenied", "Message": "Access Denied"} for key in keys
                ]
            }
        return self._client.delete_objects(**arguments)


@pytest.fixture
def s3_bucket(aws_env) -> str:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "out")
    request.getfixturevalue("s3_bucket")
    return S3Storage(BUCKET, "out/")


def _keys(storage) -> list[str]:
    return [obj.key for obj in storage.list_objects()]


def test_each_publication_is_a_new_version_behind_the_pointer(storage, tmp_path):
    frame = tmp_path / "frame.png"
    frame.write_bytes(b"png1")
    uris = publish(storage, "call", {**FILES_V1, "screenshots/a.png": frame})
    assert uris["document.md"] == storage.uri("call/v1/document.md")
    manifest = read_manifest(storage, "call")
    assert manifest.version == 1
    assert manifest.files["screenshots/a.png"].sha256 == hashlib.sha256(b"png1").hexdigest()
    assert manifest.files["document.md"].content_type == "text/markdown"

    uris = publish(storage, "call", FILES_V2, content_types={"document.md": "text/markdown; charset=utf-8"})
    assert uris["document.md"] == storage.uri("call/v2/document.md")
    assert read_manifest(storage, "call").version == 2
    assert read_manifest(storage, "call").files["document.md"].content_type.endswith("utf-8")
    for name, content in FILES_V2.items():
        assert read_published(storage, "call", name) == content
    # The previous version stays readable for readers that read the previous pointer.
    assert storage.read_bytes("call/v1/document.md") == b"# v1"
    assert read_manifest(storage, "never-published") is None


def test_versions_past_the_configured_number_are_removed(storage):
    for number in range(1, 5):
        publish(storage, "call", {"document.md": f"# v{number}".encode()}, versions_kept=2)
    assert _keys(storage) == ["call/manifest.json", "call/v3/document.md", "call/v4/document.md"]
    assert read_published(storage, "call", "document.md") == b"# v4"


def test_a_failed_publication_leaves_the_previous_version_whole(storage, tmp_path):
    publish(storage, "call", FILES_V1)
    before = _keys(storage)
    with pytest.raises(FileNotFoundError):
        publish(storage, "call", {**FILES_V2, "screenshots/a.png": tmp_path / "missing.png"})
    assert _keys(storage) == before
    assert read_manifest(storage, "call").version == 1


def test_file_names_that_escape_the_version_are_refused(storage):
    for name in ("../evil.md", "a//b.md", ""):
        with pytest.raises(ValueError):
            publish(storage, "call", {name: b"x"})
    assert read_manifest(storage, "call") is None


def test_a_reader_detects_a_file_that_differs_from_the_pointer(storage):
    publish(storage, "call", FILES_V1)
    storage.write_bytes("call/v1/document.md", b"tampered")
    with pytest.raises(InputError, match="differs from the manifest"):
        read_published(storage, "call", "document.md")


def test_s3_dropped_upload_mid_republication_readers_see_the_old_version_whole(s3_bucket):
    faulty = FaultyS3Client(boto3.client("s3"), drop_upload_of="v2/document.html")
    storage = S3Storage(s3_bucket, "out", client=faulty)
    publish(storage, "call", FILES_V1)

    with pytest.raises(InputError) as error:
        publish(storage, "call", FILES_V2)
    assert error.value.source == f"s3://{s3_bucket}" and "cannot reach S3" in error.value.reason
    # The new version was half uploaded (its document.md is there) but nobody points at it.
    assert storage.exists("call/v2/document.md")
    reader = S3Storage(s3_bucket, "out")
    assert read_manifest(reader, "call").version == 1
    for name, content in FILES_V1.items():
        assert read_published(reader, "call", name) == content

    faulty.drop_upload_of = None
    publish(storage, "call", FILES_V2, versions_kept=1)
    assert read_manifest(reader, "call").version == 3
    assert sorted(_keys(reader)) == sorted(
        ["call/manifest.json", *(f"call/v3/{name}" for name in FILES_V2)]
    )


def test_s3_pointer_is_written_after_every_file(s3_bucket):
    faulty = FaultyS3Client(boto3.client("s3"))
    publish(S3Storage(s3_bucket, "out", client=faulty), "call", FILES_V1)
    writes = [key for operation, key in faulty.operations if operation == "put_object"]
    assert writes[-1] == f"out/call/{MANIFEST_NAME}"
    assert sorted(writes[:-1]) == sorted(f"out/call/v1/{name}" for name in FILES_V1)


def test_s3_refused_deletions_inside_a_200_answer_are_reported(s3_bucket):
    faulty = FaultyS3Client(boto3.client("s3"), refuse_deletes=True)
    storage = S3Storage(s3_bucket, "out", client=faulty)
    publish(storage, "call", FILES_V1, versions_kept=1)
    with pytest.raises(InputError) as error:
        publish(storage, "call", FILES_V2, versions_kept=1)
    assert "AccessDenied" in error.value.reason and "s3:DeleteObject" in error.value.reason
    assert error.value.source.startswith(f"s3://{s3_bucket}/out/call/v1/")
    # The new version is published all the same; only the old one could not be removed.
    assert read_published(storage, "call", "document.md") == b"# v2"


def test_local_version_appears_by_one_rename_of_a_hidden_folder(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path / "out")
    publish(storage, "call", FILES_V1)
    renames: list[tuple[str, str]] = []
    real_rename = os.rename

    def recording_rename(source, destination):
        # While the new version is built, the pointer still names the old, complete one.
        assert json.loads((tmp_path / "out" / "call" / MANIFEST_NAME).read_bytes())["version"] == 1
        renames.append((os.path.basename(source), os.path.basename(destination)))
        real_rename(source, destination)

    monkeypatch.setattr(storage_module.os, "rename", recording_rename)
    publish(storage, "call", FILES_V2)

    assert len(renames) == 1
    assert renames[0][0].startswith(".v2.") and renames[0][0].endswith(".partial")
    assert renames[0][1] == "v2"
    assert sorted(os.listdir(tmp_path / "out" / "call")) == [MANIFEST_NAME, "v1", "v2"]


def test_local_failure_while_copying_leaves_no_version_and_no_staging(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path / "out")
    publish(storage, "call", FILES_V1)

    def full_disk(source, destination):
        raise OSError(28, "No space left on device", str(destination))

    monkeypatch.setattr(storage_module.shutil, "copyfile", full_disk)
    frame = tmp_path / "frame.png"
    frame.write_bytes(b"png2")
    with pytest.raises(InputError, match="No space left on device"):
        publish(storage, "call", {**FILES_V2, "screenshots/a.png": frame})
    assert sorted(os.listdir(tmp_path / "out" / "call")) == [MANIFEST_NAME, "v1"]
    assert read_published(storage, "call", "document.md") == b"# v1"
