"""Storage: one behaviour suite for a folder and S3 (moto over HTTP), plus each side's specifics."""

from __future__ import annotations

import hashlib
import os
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import psutil
import pytest

from techne_assets.adapters import storage as storage_module
from techne_assets.adapters.storage import (
    LocalStorage,
    S3Storage,
    storage_from_uri,
)
from techne_assets.core.errors import InputError

BUCKET = "techne-storage-test"
ACCENTED_KEY = "turma A/Treinamento Configuração 01.mp4"
MB = 1024 * 1024


@pytest.fixture
def s3_bucket(aws_env) -> str:
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return BUCKET


@pytest.fixture(params=["local", "s3"])
def storage(request, tmp_path):
    if request.param == "local":
        return LocalStorage(tmp_path / "store")
    request.getfixturevalue("s3_bucket")
    return S3Storage(BUCKET, "root/prefix/")


def _write_pattern_file(path: Path, size: int) -> str:
    """Writes `size` bytes without holding them in memory; returns their SHA-256."""
    digest = hashlib.sha256()
    with open(path, "wb") as out:
        for index in range(0, size, MB):
            chunk = bytes([index // MB % 251]) * min(MB, size - index)
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _record_s3_calls(storage: S3Storage) -> list[tuple[str, str | None]]:
    """Every S3 operation the storage's client sends, with the key it names."""
    calls: list[tuple[str, str | None]] = []

    def record(params, model, **_):
        calls.append((model.name, params.get("Key")))

    storage._client.meta.events.register("before-parameter-build.s3", record)
    return calls


# --- behaviour shared by both sides ---------------------------------------------------------


def test_round_trip_with_spaces_and_accents(storage):
    storage.write_bytes(ACCENTED_KEY, b"video bytes", content_type="video/mp4")

    assert storage.read_bytes(ACCENTED_KEY) == b"video bytes"
    assert storage.exists(ACCENTED_KEY)
    assert not storage.exists("turma A/other.mp4")
    info = storage.stat(ACCENTED_KEY)
    assert info.key == ACCENTED_KEY
    assert info.size == len(b"video bytes")
    assert info.etag and '"' not in info.etag
    assert info.last_modified.utcoffset().total_seconds() == 0
    assert storage.uri(ACCENTED_KEY).endswith("Treinamento Configuração 01.mp4")
    assert storage.uri(ACCENTED_KEY).startswith(storage.root_uri)
    assert [obj.key for obj in storage.list_objects()] == [ACCENTED_KEY]


def test_missing_object_is_an_input_error_naming_it(storage):
    with pytest.raises(InputError) as error:
        storage.stat("nope/missing.mp4")
    assert error.value.source == storage.uri("nope/missing.mp4")
    assert "no such" in error.value.reason
    with pytest.raises(InputError):
        storage.read_bytes("nope/missing.mp4")


def test_listing_is_sorted_by_key_and_honours_prefix_and_start_after(storage):
    # '/' sorts after ' ' and '.', before '0': a naive folder walk would get this order wrong.
    keys = [
        "a/x.mp4",
        "a0.mp4",
        "a b/x.mp4",
        "a.txt",
        "b/c/d.mp4",
        "b/c.mp4",
        "videos/2024-01.mp4",
        "videos/2024/02.mp4",
        "videos/2025.mp4",
    ]
    for key in keys:
        storage.write_bytes(key, key.encode())

    assert [obj.key for obj in storage.list_objects()] == sorted(keys)
    assert [obj.key for obj in storage.list_objects("videos/2024")] == [
        "videos/2024-01.mp4",
        "videos/2024/02.mp4",
    ]
    assert [obj.key for obj in storage.list_objects("b/")] == ["b/c.mp4", "b/c/d.mp4"]
    assert [obj.key for obj in storage.list_objects(start_after="a0.mp4")] == sorted(keys)[4:]
    assert [obj.key for obj in storage.list_objects(start_after="a/")] == sorted(keys)[2:]
    assert [obj.key for obj in storage.list_objects(start_after="a/x.mp4")] == sorted(keys)[3:]
    assert [obj.key for obj in storage.list_objects("nothing-here/")] == []


def test_upload_and_download_file(storage, tmp_path):
    source = tmp_path / "source.bin"
    expected = _write_pattern_file(source, 300_000)
    storage.upload_file("work/audio.flac", source, content_type="audio/flac")

    target = tmp_path / "deep" / "down" / "copy.bin"
    storage.download_file("work/audio.flac", target)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == expected
    with pytest.raises(InputError):
        storage.download_file("work/missing.flac", tmp_path / "never.bin")


def test_media_url_serves_byte_ranges_of_an_accented_key(storage):
    payload = bytes(range(256)) * 40
    storage.write_bytes(ACCENTED_KEY, payload)

    url = storage.media_url(ACCENTED_KEY)
    if isinstance(storage, LocalStorage):
        assert Path(url).is_absolute()
        with open(url, "rb") as media:
            media.seek(1000)
            assert media.read(100) == payload[1000:1100]
    else:
        request = urllib.request.Request(url, headers={"Range": "bytes=1000-1099"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 206
            assert response.read() == payload[1000:1100]


# --- the folder -----------------------------------------------------------------------------


def test_local_listing_and_plain_stat_open_no_file(tmp_path, monkeypatch):
    storage = LocalStorage(tmp_path)
    for index in range(50):
        (tmp_path / f"video-{index:03}.mp4").write_bytes(b"x" * index)

    def no_open(*args, **kwargs):
        raise AssertionError("a file was opened")

    monkeypatch.setattr(storage_module, "open", no_open, raising=False)
    listed = list(storage.list_objects())
    assert len(listed) == 50
    assert listed[7].size == 7
    assert storage.stat("video-007.mp4").sha256 is None


def test_local_content_hash_only_on_request_and_refreshed_when_replaced(tmp_path):
    storage = LocalStorage(tmp_path)
    (tmp_path / "call.mp4").write_bytes(b"first")
    first = storage.stat("call.mp4", with_hash=True)
    assert first.sha256 == hashlib.sha256(b"first").hexdigest()
    assert first.content_id == first.sha256

    (tmp_path / "call.mp4").write_bytes(b"second, longer")
    second = storage.stat("call.mp4", with_hash=True)
    assert second.sha256 == hashlib.sha256(b"second, longer").hexdigest()
    assert second.etag != first.etag


def test_local_input_is_never_modified_by_reading(tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "turma A").mkdir(parents=True)
    (inbox / "turma A" / "Treinamento Configuração 01.mp4").write_bytes(b"video" * 1000)
    (inbox / "call.vtt").write_text("WEBVTT\n")

    def snapshot():
        return sorted(
            (
                str(path.relative_to(inbox)),
                path.stat().st_mtime_ns,
                path.read_bytes() if path.is_file() else b"",
            )
            for path in inbox.rglob("*")
        )

    before = snapshot()
    storage = storage_from_uri(str(inbox))
    for obj in storage.list_objects():
        storage.stat(obj.key, with_hash=True)
        storage.read_bytes(obj.key)
        with storage.open_read(obj.key) as stream:
            stream.read(10)
        storage.media_url(obj.key)
        storage.download_file(obj.key, tmp_path / "copies" / obj.key)
    assert snapshot() == before
    assert sorted(os.listdir(inbox)) == ["call.vtt", "turma A"]


def test_local_missing_input_folder_is_an_input_error_and_is_not_created(tmp_path):
    storage = storage_from_uri(str(tmp_path / "no-inbox"))
    with pytest.raises(InputError) as error:
        list(storage.list_objects())
    assert "no such folder" in str(error.value)
    assert not (tmp_path / "no-inbox").exists()


def test_local_write_is_atomic_and_leaves_no_temporary_file(tmp_path):
    storage = LocalStorage(tmp_path / "work")
    storage.write_bytes("a/b/state.json", b"{}")
    storage.write_bytes("a/b/state.json", b'{"v": 2}')
    assert os.listdir(tmp_path / "work" / "a" / "b") == ["state.json"]
    assert storage.read_bytes("a/b/state.json") == b'{"v": 2}'


def test_keys_that_escape_the_root_are_refused(tmp_path):
    storage = LocalStorage(tmp_path / "store")
    for key in ("../outside.txt", "/etc/passwd", "a//b", ""):
        with pytest.raises(ValueError):
            storage.write_bytes(key, b"x")
    with pytest.raises(ValueError):
        list(LocalStorage(tmp_path).list_objects("../"))


# --- S3 -------------------------------------------------------------------------------------


def test_s3_listing_paginates_past_a_thousand_objects(s3_bucket):
    storage = S3Storage(s3_bucket, "many")
    keys = [f"videos/{index:05}.mp4" for index in range(1200)]
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda key: storage.write_bytes(key, b"v"), keys))
    calls = _record_s3_calls(storage)

    listed = [obj.key for obj in storage.list_objects("videos/")]
    assert listed == keys
    assert sum(1 for operation, _ in calls if operation == "ListObjectsV2") >= 2
    assert [obj.key for obj in storage.list_objects(start_after="videos/01150.mp4")] == keys[1151:]


def test_s3_open_read_streams_a_large_object_in_chunks(s3_bucket, tmp_path):
    storage = S3Storage(s3_bucket)
    source = tmp_path / "big.mp4"
    expected = _write_pattern_file(source, 20 * MB)
    storage.upload_file("big.mp4", source)

    process = psutil.Process()
    baseline = process.memory_info().rss
    peak_growth = 0
    digest = hashlib.sha256()
    chunks = 0
    with storage.open_read("big.mp4") as body:
        while chunk := body.read(MB):
            digest.update(chunk)
            chunks += 1
            peak_growth = max(peak_growth, process.memory_info().rss - baseline)
    assert digest.hexdigest() == expected
    assert chunks == 20
    assert peak_growth < 12 * MB  # reading the object whole would take at least 20 MB


def test_s3_upload_file_goes_multipart_for_big_files(s3_bucket, tmp_path):
    storage = S3Storage(s3_bucket, "uploads")
    source = tmp_path / "twelve.mp4"
    _write_pattern_file(source, 12 * MB)
    calls = _record_s3_calls(storage)

    storage.upload_file("twelve.mp4", source, content_type="video/mp4")

    assert ("CreateMultipartUpload", "uploads/twelve.mp4") in calls
    info = storage.stat("twelve.mp4")
    assert info.etag.endswith("-2")
    assert info.size == 12 * MB
    head = boto3.client("s3").head_object(Bucket=s3_bucket, Key="uploads/twelve.mp4")
    assert head["ContentType"] == "video/mp4"


def test_s3_takes_any_non_empty_key_as_it_is(s3_bucket):
    # Legal in S3 though no folder could hold them: an input bucket may well have such keys.
    storage = S3Storage(s3_bucket, "inbox")
    for key in ("turma//aula.mp4", "turma/./aula.mp4"):
        storage.write_bytes(key, key.encode())
        assert storage.stat(key).size == len(key)
        assert storage.read_bytes(key) == key.encode()
    assert [obj.key for obj in storage.list_objects()] == ["turma/./aula.mp4", "turma//aula.mp4"]
    with pytest.raises(ValueError):
        storage.stat("")


def test_s3_missing_bucket_is_an_input_error(aws_env):
    with pytest.raises(InputError) as error:
        list(S3Storage("no-such-bucket", "inbox").list_objects())
    assert error.value.source == "s3://no-such-bucket/inbox/"


def test_s3_reading_input_changes_nothing(s3_bucket, tmp_path):
    storage = S3Storage(s3_bucket, "inbox")
    storage.write_bytes(ACCENTED_KEY, b"video")
    before = list(storage.list_objects())
    for obj in before:
        storage.stat(obj.key, with_hash=True)
        storage.read_bytes(obj.key)
        storage.download_file(obj.key, tmp_path / "copy.mp4")
        storage.media_url(obj.key)
    assert list(storage.list_objects()) == before


# --- choosing a side from a URI -------------------------------------------------------------


def test_storage_from_uri(tmp_path, monkeypatch):
    s3 = storage_from_uri("s3://bucket/input/videos")
    assert isinstance(s3, S3Storage)
    assert s3.root_uri == "s3://bucket/input/videos/"
    assert s3.uri("a b.mp4") == "s3://bucket/input/videos/a b.mp4"
    assert storage_from_uri("s3://bucket").root_uri == "s3://bucket/"
    with pytest.raises(InputError):
        storage_from_uri("s3:///videos")

    monkeypatch.chdir(tmp_path)
    local = storage_from_uri("data/inbox")
    assert isinstance(local, LocalStorage)
    assert local.root_uri == str(tmp_path / "data" / "inbox")
    assert storage_from_uri(f"file://{tmp_path}/out").root_uri == str(tmp_path / "out")
    assert not (tmp_path / "data").exists()
