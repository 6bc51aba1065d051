"""Odd but real inputs: legacy encodings, control characters, broken timings, devices, pipes,
unreadable files and unreachable buckets — each ends in one clear line or is read correctly."""

from __future__ import annotations

import errno
import os
import subprocess
import sys

import boto3
import dagster as dg
import pytest
from botocore.config import Config

from techne_assets.adapters import storage as storage_module
from techne_assets.adapters.storage import LocalStorage, S3Storage
from techne_assets.core import quality
from techne_assets.core.captions import load_transcript, parse_transcript
from techne_assets.core.errors import InputError, TranscriptParseError
from techne_assets.core.transcript import Segment, Transcript


def transcript_command(*args: str, env_extra: dict[str, str] | None = None, **run) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHNE_")}
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "techne_assets.cli", "transcript", *args],
        env=env, capture_output=True, text=True, timeout=60, **run,
    )


def assert_one_line(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


# --- encodings ------------------------------------------------------------------------------

JAPANESE_SRT = (
    "1\n00:00:01,000 --> 00:00:04,000\nマリナ: こんにちは、今日はサーバーの設定を説明します。\n\n"
    "2\n00:00:04,500 --> 00:00:08,000\nマリナ: 最初にログを確認してください。\n"
)


def test_shift_jis_captions_decode_to_the_right_characters(tmp_path):
    captions = tmp_path / "aula.srt"
    captions.write_bytes(JAPANESE_SRT.encode("shift_jis"))
    transcript = load_transcript(captions)
    assert transcript.speakers == ["マリナ"]
    assert transcript.segments[0].text.startswith("こんにちは")


def test_bytes_no_encoding_reads_cleanly_fail_with_a_clear_reason():
    data = b"1\n00:00:01,000 --> 00:00:02,000\n" + bytes(range(0x80, 0x100)) * 4
    with pytest.raises(TranscriptParseError) as error:
        parse_transcript(data, "estranho.srt")
    assert error.value.source == "estranho.srt"
    assert "cannot decide the text encoding" in error.value.reason


def test_control_characters_never_reach_the_text():
    data = b"WEBVTT\n\n00:01.000 --> 00:02.000\n<v Ana\x07>Bom\x00 dia,\x1b pessoal\x7f.\n"
    (segment,) = parse_transcript(data, "nul.vtt").segments
    assert segment.text == "Bom dia, pessoal."
    assert segment.speaker == "Ana"


# --- timings --------------------------------------------------------------------------------


def test_a_cue_ending_before_it_starts_is_reported_with_its_line():
    data = b"1\n00:00:01,000 --> 00:00:03,000\nok\n\n2\n00:00:09,000 --> 00:00:05,000\nao contrario\n"
    transcript = parse_transcript(data, "invertida.srt")
    assert transcript.timing_errors == [
        "line 6: the cue ends at 00:00:05 before it starts at 00:00:09"
    ]
    verdict = quality.transcript_timings_ordered(transcript)
    assert not verdict.passed and "line 6" in verdict.description
    assert quality.transcript_timings_ordered(parse_transcript(data[:35], "ok.srt")).passed


def test_a_segment_refuses_to_end_before_it_starts():
    with pytest.raises(ValueError, match="before it starts"):
        Segment(start=9.0, end=5.0, text="x")


def test_timestamps_of_any_number_of_hours_are_read_and_caught_past_the_media():
    data = b"WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nInicio\n\n999999:00:00.000 --> 999999:00:02.000\nFim\n"
    transcript = parse_transcript(data, "horas.vtt")
    assert transcript.segments[-1].start == 999999 * 3600
    verdict = quality.transcript_within_media(transcript, media_duration=120.0, tolerance=5.0)
    assert not verdict.passed and "[999999:00:02]" in verdict.description


def test_captions_longer_than_the_media_beyond_the_tolerance_fail():
    cues = "".join(
        f"{n}\n00:{n:02d}:00,000 --> 00:{n:02d}:05,000\nfala {n}\n\n" for n in range(1, 5)
    )
    transcript = parse_transcript(cues.encode(), "longa.srt")
    assert not quality.transcript_within_media(transcript, 150.0, 5.0).passed
    assert quality.transcript_within_media(transcript, 242.0, 5.0).passed


def test_the_document_timestamp_check_sees_hours_of_100_and_more():
    markdown = "## Resumo\n\n- [00:00:10] início\n- [100:00:00] muito depois\n"
    verdict = quality.document_timestamps_valid(markdown, media_duration=3600.0)
    assert not verdict.passed
    assert verdict.metadata == {"timestamps": 2, "after_end": 1}


# --- `techne transcript` on what is not a regular file ---------------------------------------


def test_transcript_refuses_a_device():
    assert_one_line(transcript_command("/dev/zero"), "/dev/zero", "device")


def test_transcript_refuses_a_fifo_without_hanging(tmp_path):
    fifo = tmp_path / "legenda.vtt"
    os.mkfifo(fifo)
    assert_one_line(transcript_command(str(fifo)), str(fifo), "FIFO")


def test_transcript_caps_the_size_it_reads(tmp_path):
    captions = tmp_path / "grande.vtt"
    captions.write_text("WEBVTT\n\n00:01.000 --> 00:02.000\n" + "palavra " * 100, encoding="utf-8")
    result = transcript_command(str(captions), env_extra={"TECHNE_MAX_CAPTION_BYTES": "200"})
    assert_one_line(result, str(captions), "TECHNE_MAX_CAPTION_BYTES")


def test_transcript_exits_quietly_when_the_reader_closes_the_pipe(tmp_path):
    captions = tmp_path / "longa.vtt"
    cues = "".join(
        f"{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.000 --> "
        f"{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}.900\nfrase numero {n} da chamada.\n\n"
        for n in range(20000)
    )
    captions.write_text("WEBVTT\n\n" + cues, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHNE_")}
    shell = f"{sys.executable} -m techne_assets.cli transcript {captions} | head -1"
    result = subprocess.run(["bash", "-o", "pipefail", "-c", shell], env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.stdout == "{\n"
    assert result.stderr == ""
    assert result.returncode == 0


# --- permission and connection errors name the file or bucket --------------------------------


def test_an_unreadable_file_is_one_line_naming_it(tmp_path, monkeypatch):
    video = tmp_path / "aula.mp4"
    video.write_bytes(b"video")

    def refused(path, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(storage_module, "open", refused, raising=False)
    with pytest.raises(InputError) as error:
        LocalStorage(tmp_path).stat("aula.mp4", with_hash=True)
    assert error.value.source == str(video)
    assert error.value.reason == "cannot read the file: Permission denied"


def test_an_unwritable_output_is_refused_before_any_work(tmp_path):
    in_the_way = tmp_path / "docs"
    in_the_way.write_text("a file where the output folder should be")
    with pytest.raises(InputError) as error:
        LocalStorage(in_the_way / "out").check_writable()
    assert "cannot write to the folder" in error.value.reason


def test_an_unreachable_s3_endpoint_names_the_bucket(aws_env):
    client = boto3.client(
        "s3",
        endpoint_url="http://127.0.0.1:9",
        config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    storage = S3Storage("techne-input-dev", "videos", client=client)
    with pytest.raises(InputError) as error:
        storage.stat("aula.mp4")
    assert error.value.source == "s3://techne-input-dev"
    assert "cannot reach S3" in error.value.reason and "techne-input-dev" in error.value.reason


def test_an_s3_access_denied_names_the_object(aws_env):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="techne-output-dev")

    def deny(params, **_):
        from botocore.exceptions import ClientError

        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "Access Denied"}}, "PutObject")

    s3.meta.events.register("before-call.s3.PutObject", deny)
    storage = S3Storage("techne-output-dev", client=s3)
    with pytest.raises(InputError) as error:
        storage.write_bytes("call/v1/document.md", b"x")
    assert error.value.source == "s3://techne-output-dev/call/v1/document.md"
    assert error.value.reason == "S3 refused to write the object: AccessDenied Access Denied"


def test_leading_dot_names_find_their_captions(tmp_path):
    from techne_assets.adapters.transcription import CaptionTranscriber

    (tmp_path / ".aula.vtt").write_text("WEBVTT\n\n00:01.000 --> 00:02.000\nOi\n", encoding="utf-8")
    (tmp_path / ".aula.mp4").write_bytes(b"")
    assert CaptionTranscriber(LocalStorage(tmp_path)).has_captions(".aula.mp4")
    assert [o.key for o in LocalStorage(tmp_path).list_objects()] == [".aula.mp4", ".aula.vtt"]


def test_an_outside_video_finds_its_captions_beside_it(tmp_path):
    from techne_assets.adapters.transcription import CaptionTranscriber

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "call.vtt").write_text("WEBVTT\n\n00:01.000 --> 00:02.000\nOi\n", encoding="utf-8")
    inbox = LocalStorage(tmp_path / "inbox")
    assert CaptionTranscriber(inbox).has_captions(str(elsewhere / "call.mp4"))
    assert not CaptionTranscriber(inbox).has_captions(str(tmp_path / "call.mp4"))


@pytest.fixture(autouse=True)
def _work_in_tmp(monkeypatch, tmp_path):
    """`techne` creates its Dagster home in the working directory: keep it in the test's folder."""
    monkeypatch.chdir(tmp_path)


def test_a_refused_asset_store_fails_the_step_in_one_line(tmp_path):
    from techne_assets.defs.errors import describe_step_failure
    from techne_assets.defs.io_manager import PydanticJsonIOManager

    @dg.asset
    def transcript():
        return Transcript()

    (tmp_path / "store").write_text("a file where the asset store should be")
    result = dg.materialize(
        [transcript],
        resources={"io_manager": PydanticJsonIOManager(store_uri=str(tmp_path / "store" / "x"))},
        raise_on_error=False,
    )
    (failure,) = [event for event in result.all_events if event.is_step_failure]
    step, reason = describe_step_failure(failure)
    assert step == "transcript"
    assert reason.startswith(str(tmp_path / "store")) and "cannot write" in reason
