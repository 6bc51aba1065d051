"""Transcribers: caption files beside a video, and Amazon Transcribe.

Every Transcribe call goes through botocore's Stubber, which checks each request against the
service model and fails on any call the test did not expect; the work bucket is moto over HTTP.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from media_support import make_test_video

from techne_assets.adapters import media
from techne_assets.adapters.storage import LocalStorage, S3Storage
from techne_assets.adapters.transcription import (
    AmazonTranscribeTranscriber,
    CaptionTranscriber,
    TranscriptionFailed,
    TranscriptionTimedOut,
)
from techne_assets.core.errors import InputError
from techne_assets.core.video import VideoInfo

WORK_BUCKET = "techne-work"
WORK_PREFIX = "dev"
JOB_KEY = "suporte-k8s-3f2a9c1d"
NOT_FOUND = "The requested job couldn't be found. Check the job name and try again."


class FakeClock:
    """Time moves only when the code under test sleeps; `on_sleep` hooks run one per sleep."""

    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []
        self.on_sleep: list = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep.pop(0)()


def video_info(path: Path, key: str) -> VideoInfo:
    return VideoInfo(
        partition_key=key.rsplit("/", 1)[-1],
        key=key,
        uri=str(path),
        size_bytes=path.stat().st_size,
        etag="3f2a9c1d",
        content_id="3f2a9c1d",
        media=media.probe(str(path)),
    )


def transcribe_result(job_name: str, turns: list[tuple[str, float, str]]) -> bytes:
    """A Transcribe output (speaker labels on) for `turns` of (speaker, start, text), 0.4 s a word."""
    items, segments, sentences = [], [], []
    for speaker, start, text in turns:
        words = text.split()
        segment_items = []
        for index, word in enumerate(words):
            begin, end = f"{start + 0.4 * index:.2f}", f"{start + 0.4 * index + 0.35:.2f}"
            items.append(
                {
                    "start_time": begin,
                    "end_time": end,
                    "alternatives": [{"confidence": "0.98", "content": word}],
                    "type": "pronunciation",
                    "speaker_label": speaker,
                }
            )
            segment_items.append({"start_time": begin, "end_time": end, "speaker_label": speaker})
        items.append(
            {
                "alternatives": [{"confidence": "0.0", "content": "."}],
                "type": "punctuation",
                "speaker_label": speaker,
            }
        )
        segments.append(
            {
                "start_time": segment_items[0]["start_time"],
                "end_time": segment_items[-1]["end_time"],
                "speaker_label": speaker,
                "items": segment_items,
            }
        )
        sentences.append(text + ".")
    document = {
        "jobName": job_name,
        "accountId": "123456789012",
        "status": "COMPLETED",
        "results": {
            "language_code": "pt-BR",
            "transcripts": [{"transcript": " ".join(sentences)}],
            "speaker_labels": {"speakers": len({t[0] for t in turns}), "segments": segments},
            "items": items,
        },
    }
    return json.dumps(document, ensure_ascii=False).encode()


def job_response(name: str, status: str, **extra) -> dict:
    job = {
        "TranscriptionJobName": name,
        "TranscriptionJobStatus": status,
        "LanguageCode": "pt-BR",
        "MediaFormat": "flac",
        "CreationTime": datetime(2025, 5, 1, 12, 0, tzinfo=UTC),
        **extra,
    }
    if status == "COMPLETED":
        job["Transcript"] = {
            "TranscriptFileUri": "https://s3.us-east-1.amazonaws.com/"
            f"{WORK_BUCKET}/{WORK_PREFIX}/transcripts/raw/{name}.json"
        }
    return {"TranscriptionJob": job}


def expect_get(stubber: Stubber, name: str, status: str | None, **extra) -> None:
    """status None: Transcribe does not know the job."""
    params = {"TranscriptionJobName": name}
    if status is None:
        stubber.add_client_error(
            "get_transcription_job",
            service_error_code="BadRequestException",
            service_message=NOT_FOUND,
            http_status_code=400,
            expected_params=params,
        )
    else:
        stubber.add_response("get_transcription_job", job_response(name, status, **extra), params)


def start_params(name: str, part: int = 0, **overrides) -> dict:
    params = {
        "TranscriptionJobName": name,
        "Media": {
            "MediaFileUri": f"s3://{WORK_BUCKET}/{WORK_PREFIX}/audio/{JOB_KEY}/part-{part:02d}.flac"
        },
        "MediaFormat": "flac",
        "LanguageCode": "pt-BR",
        "OutputBucketName": WORK_BUCKET,
        "OutputKey": f"{WORK_PREFIX}/transcripts/raw/{name}.json",
        "Settings": {"ShowSpeakerLabels": True, "MaxSpeakerLabels": 10},
    }
    params.update(overrides)
    return params


def expect_start(stubber: Stubber, name: str, part: int = 0, **overrides) -> None:
    stubber.add_response(
        "start_transcription_job",
        job_response(name, "QUEUED"),
        start_params(name, part, **overrides),
    )


@pytest.fixture
def work(aws_env) -> S3Storage:
    boto3.client("s3").create_bucket(Bucket=WORK_BUCKET)
    return S3Storage(WORK_BUCKET, WORK_PREFIX)


@pytest.fixture
def transcribe_client(aws_env):
    client = boto3.client("transcribe")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


@pytest.fixture(scope="module")
def call_video(tmp_path_factory) -> Path:
    return make_test_video(tmp_path_factory.mktemp("transcription") / "call.mp4", 5)


def make_transcriber(work, client, clock, **options) -> AmazonTranscribeTranscriber:
    return AmazonTranscribeTranscriber(
        work, client=client, sleep=clock.sleep, clock=clock.monotonic, **options
    )


TURNS = [
    ("spk_0", 0.5, "Bom dia vamos olhar o pod de pagamentos"),
    ("spk_1", 4.0, "Rodei kubectl get pods e o pod está em CrashLoopBackOff"),
]


def test_a_fresh_job_is_started_polled_with_backoff_and_read_with_speakers(
    work, transcribe_client, call_video
):
    client, stubber = transcribe_client
    clock = FakeClock()
    transcriber = make_transcriber(work, client, clock)
    name = transcriber.job_name(JOB_KEY)
    expect_get(stubber, name, None)
    expect_start(stubber, name)
    expect_get(stubber, name, "QUEUED")
    expect_get(stubber, name, "IN_PROGRESS")
    expect_get(stubber, name, "COMPLETED")
    result_key = f"transcripts/raw/{name}.json"
    # Transcribe writes its output when the job completes, not before.
    clock.on_sleep = [
        lambda: None,
        lambda: work.write_bytes(result_key, transcribe_result(name, TURNS)),
    ]

    transcript = transcriber.transcribe(
        video_info(call_video, "inbox/call.mp4"), str(call_video), job_key=JOB_KEY
    )

    assert clock.sleeps == [5, 10]
    assert len(transcript.speakers) == 2
    assert transcript.segments[0].start == pytest.approx(0.5)
    assert transcript.segments[-1].start == pytest.approx(4.0)
    assert "CrashLoopBackOff" in transcript.text
    assert transcript.duration == pytest.approx(5.0, abs=0.1)
    audio_key = f"audio/{JOB_KEY}/part-00.flac"
    assert work.exists(audio_key)
    assert work.stat(audio_key).size > 1000


def test_a_rerun_reuses_the_completed_job_without_extracting_or_starting_again(
    work, transcribe_client, call_video, data_dir
):
    client, stubber = transcribe_client
    clock = FakeClock()
    transcriber = make_transcriber(work, client, clock)
    name = transcriber.job_name(JOB_KEY)
    expect_get(stubber, name, None)
    expect_start(stubber, name)
    expect_get(stubber, name, "COMPLETED")
    # A real Transcribe output (English audiobook reading, no speaker labels).
    work.write_bytes(
        f"transcripts/raw/{name}.json",
        (data_dir / "transcribe" / "tscribe_01-plain.json").read_bytes(),
    )
    video = video_info(call_video, "inbox/call.mp4")
    first = transcriber.transcribe(video, str(call_video), job_key=JOB_KEY)

    expect_get(
        stubber, name, "COMPLETED"
    )  # and nothing else: a StartTranscriptionJob would fail the stub
    again = transcriber.transcribe(
        video, "/nowhere/the-video-is-not-read-again.mp4", job_key=JOB_KEY
    )

    assert again == first
    assert first.word_count > 100
    assert clock.sleeps == []


def test_a_completed_job_whose_result_expired_runs_again_under_a_new_name(
    work, transcribe_client, call_video
):
    client, stubber = transcribe_client
    clock = FakeClock()
    transcriber = make_transcriber(work, client, clock)
    name = transcriber.job_name(JOB_KEY)
    expect_get(stubber, name, None)
    expect_start(stubber, name)
    expect_get(stubber, name, "COMPLETED")
    work.write_bytes(f"transcripts/raw/{name}.json", transcribe_result(name, TURNS))
    video = video_info(call_video, "inbox/call.mp4")
    first = transcriber.transcribe(video, str(call_video), job_key=JOB_KEY)

    # Scratch expired: the raw result and the extracted audio are gone; Transcribe still
    # lists the COMPLETED job (it keeps jobs 90 days).
    boto3.client("s3").delete_objects(
        Bucket=WORK_BUCKET,
        Delete={"Objects": [{"Key": f"{WORK_PREFIX}/{key}"} for key in (
            f"transcripts/raw/{name}.json", f"audio/{JOB_KEY}/part-00.flac"
        )]},
    )
    rerun = f"{name}-r1"
    expect_get(stubber, name, "COMPLETED")
    expect_get(stubber, rerun, None)
    expect_start(stubber, rerun)
    expect_get(stubber, rerun, "COMPLETED")
    work.write_bytes(f"transcripts/raw/{rerun}.json", transcribe_result(rerun, TURNS))

    again = transcriber.transcribe(video, str(call_video), job_key=JOB_KEY)

    assert again == first
    assert work.exists(f"audio/{JOB_KEY}/part-00.flac")  # extracted again for the new job


def test_a_job_running_from_an_earlier_attempt_is_waited_for_not_started_again(
    work, transcribe_client, call_video
):
    client, stubber = transcribe_client
    clock = FakeClock()
    transcriber = make_transcriber(work, client, clock)
    name = transcriber.job_name(JOB_KEY)
    expect_get(stubber, name, "IN_PROGRESS")  # found running: no StartTranscriptionJob
    expect_get(stubber, name, "IN_PROGRESS")
    expect_get(stubber, name, "COMPLETED")
    work.write_bytes(f"transcripts/raw/{name}.json", transcribe_result(name, TURNS))

    transcript = transcriber.transcribe(
        video_info(call_video, "inbox/call.mp4"), str(call_video), job_key=JOB_KEY
    )

    assert transcript.speakers == ["Falante 1", "Falante 2"]
    assert clock.sleeps == [5]


def test_a_failed_job_raises_with_transcribes_reason(work, transcribe_client, call_video):
    client, stubber = transcribe_client
    clock = FakeClock()
    transcriber = make_transcriber(work, client, clock)
    name = transcriber.job_name(JOB_KEY)
    reason = (
        "The media format provided does not match the detected media format. "
        "Check the media format and try again."
    )
    expect_get(stubber, name, None)
    expect_start(stubber, name)
    expect_get(stubber, name, "IN_PROGRESS")
    expect_get(stubber, name, "FAILED", FailureReason=reason)

    with pytest.raises(TranscriptionFailed) as caught:
        transcriber.transcribe(
            video_info(call_video, "inbox/call.mp4"), str(call_video), job_key=JOB_KEY
        )

    assert caught.value.job_name == name
    assert caught.value.reason == reason
    assert reason in str(caught.value)


def test_a_rerun_after_a_failure_deletes_the_failed_job_and_starts_it_again(
    work, transcribe_client, call_video
):
    client, stubber = transcribe_client
    clock = FakeClock()
    transcriber = make_transcriber(work, client, clock)
    name = transcriber.job_name(JOB_KEY)
    expect_get(stubber, name, "FAILED", FailureReason="Internal failure")
    stubber.add_response("delete_transcription_job", {}, {"TranscriptionJobName": name})
    expect_start(stubber, name)
    expect_get(stubber, name, "COMPLETED")
    work.write_bytes(f"transcripts/raw/{name}.json", transcribe_result(name, TURNS))

    transcript = transcriber.transcribe(
        video_info(call_video, "inbox/call.mp4"), str(call_video), job_key=JOB_KEY
    )

    assert "kubectl" in transcript.text


def test_a_job_still_running_at_the_deadline_times_out_with_a_clear_message(
    work, transcribe_client, call_video
):
    client, stubber = transcribe_client
    clock = FakeClock()
    transcriber = make_transcriber(work, client, clock, timeout_seconds=30)
    name = transcriber.job_name(JOB_KEY)
    expect_get(stubber, name, None)
    expect_start(stubber, name)
    for _ in range(4):
        expect_get(stubber, name, "IN_PROGRESS")

    with pytest.raises(TranscriptionTimedOut) as caught:
        transcriber.transcribe(
            video_info(call_video, "inbox/call.mp4"), str(call_video), job_key=JOB_KEY
        )

    assert clock.sleeps == [5, 10, 20]
    assert caught.value.status == "IN_PROGRESS"
    assert "still IN_PROGRESS after 35s" in str(caught.value)
    assert "rerun" in str(caught.value)


def test_polling_backs_off_up_to_its_cap(work, transcribe_client, call_video):
    client, stubber = transcribe_client
    clock = FakeClock()
    transcriber = make_transcriber(work, client, clock)
    name = transcriber.job_name(JOB_KEY)
    expect_get(stubber, name, None)
    expect_start(stubber, name)
    for _ in range(7):
        expect_get(stubber, name, "IN_PROGRESS")
    expect_get(stubber, name, "COMPLETED")
    work.write_bytes(f"transcripts/raw/{name}.json", transcribe_result(name, TURNS))

    transcriber.transcribe(
        video_info(call_video, "inbox/call.mp4"), str(call_video), job_key=JOB_KEY
    )

    assert clock.sleeps == [5, 10, 20, 40, 60, 60, 60]


def test_audio_longer_than_a_part_becomes_parts_jobs_and_one_merged_transcript(
    work, transcribe_client, call_video
):
    client, stubber = transcribe_client
    clock = FakeClock()
    transcriber = make_transcriber(work, client, clock, max_part_seconds=2)
    names = [transcriber.job_name(JOB_KEY, index, 3) for index in range(3)]
    assert len(set(names)) == 3
    for part, name in enumerate(names):
        expect_get(stubber, name, None)
        expect_start(stubber, name, part)
    for part, name in enumerate(names):
        expect_get(stubber, name, "COMPLETED")
        work.write_bytes(
            f"transcripts/raw/{name}.json",
            transcribe_result(
                name, [("spk_0", 0.2, f"parte {part} começa"), ("spk_1", 1.0, "e continua")]
            ),
        )

    transcript = transcriber.transcribe(
        video_info(call_video, "inbox/call.mp4"), str(call_video), job_key=JOB_KEY
    )

    parts = json.loads(work.read_bytes(f"audio/{JOB_KEY}/parts.json"))["parts"]
    offsets = [part["offset_seconds"] for part in parts]
    assert offsets == pytest.approx([0, 5 / 3, 10 / 3], abs=0.02)
    starts = [segment.start for segment in transcript.segments]
    assert starts == pytest.approx([offset + t for offset in offsets for t in (0.2, 1.0)], abs=0.01)
    assert starts == sorted(starts)
    assert [s.text.split()[:2] for s in transcript.segments[::2]] == [
        ["parte", "0"],
        ["parte", "1"],
        ["parte", "2"],
    ]
    # Diarization is per job: the same label in two parts need not be the same person.
    assert transcript.speakers == [f"Falante {n} (parte {p})" for p in (1, 2, 3) for n in (1, 2)]
    assert transcript.duration == pytest.approx(5.0, abs=0.1)


class UploadCountingStorage(S3Storage):
    def __init__(self, bucket: str, prefix: str):
        super().__init__(bucket, prefix)
        self.uploaded: list[str] = []

    def upload_file(self, key, path, content_type=None):
        self.uploaded.append(key)
        super().upload_file(key, path, content_type)


def test_audio_already_uploaded_is_not_uploaded_again(work, transcribe_client, call_video):
    client, stubber = transcribe_client
    storage = UploadCountingStorage(WORK_BUCKET, WORK_PREFIX)
    transcriber = make_transcriber(storage, client, FakeClock())
    name = transcriber.job_name(JOB_KEY)
    work.write_bytes(f"transcripts/raw/{name}.json", transcribe_result(name, TURNS))
    video = video_info(call_video, "inbox/call.mp4")
    for _ in range(2):
        expect_get(stubber, name, "COMPLETED")
    transcriber.transcribe(video, str(call_video), job_key=JOB_KEY)
    assert storage.uploaded == [f"audio/{JOB_KEY}/part-00.flac"]

    # An attempt that stopped between the upload and the parts list extracts again, uploads nothing.
    boto3.client("s3").delete_object(
        Bucket=WORK_BUCKET, Key=f"{WORK_PREFIX}/audio/{JOB_KEY}/parts.json"
    )
    transcriber.transcribe(video, str(call_video), job_key=JOB_KEY)
    assert storage.uploaded == [f"audio/{JOB_KEY}/part-00.flac"]
    assert storage.exists(f"audio/{JOB_KEY}/parts.json")


def test_language_identification_and_vocabulary_go_in_the_right_request_fields(
    work, transcribe_client, call_video
):
    client, stubber = transcribe_client
    clock = FakeClock()
    transcriber = make_transcriber(
        work, client, clock, identify_language=True, vocabulary="termos-k8s", max_speakers=4
    )
    name = transcriber.job_name(JOB_KEY)
    assert name != make_transcriber(work, client, clock).job_name(JOB_KEY)
    params = start_params(
        name,
        IdentifyLanguage=True,
        LanguageOptions=["pt-BR", "en-US", "es-US"],
        LanguageIdSettings={"pt-BR": {"VocabularyName": "termos-k8s"}},
        Settings={"ShowSpeakerLabels": True, "MaxSpeakerLabels": 4},
    )
    del params["LanguageCode"]
    expect_get(stubber, name, None)
    stubber.add_response("start_transcription_job", job_response(name, "QUEUED"), params)
    expect_get(stubber, name, "COMPLETED")
    work.write_bytes(f"transcripts/raw/{name}.json", transcribe_result(name, TURNS))

    transcriber.transcribe(
        video_info(call_video, "inbox/call.mp4"), str(call_video), job_key=JOB_KEY
    )


def test_a_video_without_audio_is_an_input_error_before_any_call(work, transcribe_client, tmp_path):
    client, _stubber = transcribe_client
    silent = make_test_video(tmp_path / "silent.mp4", 2, with_audio=False)
    transcriber = make_transcriber(work, client, FakeClock())
    with pytest.raises(InputError) as caught:
        transcriber.transcribe(video_info(silent, "inbox/silent.mp4"), str(silent), job_key=JOB_KEY)
    assert (caught.value.source, caught.value.reason) == ("inbox/silent.mp4", "no audio track")


def test_job_names_follow_transcribes_rules_and_stay_distinct(work):
    transcriber = AmazonTranscribeTranscriber(work)
    long_key = "treinamento/2025 05 01 — migração do cluster [parte 1]," + "x" * 300
    name = transcriber.job_name(long_key, 2, 3)
    assert re.fullmatch(r"[0-9A-Za-z._-]+", name)
    assert len(name) <= 200
    assert name.endswith("-p02of03")
    assert transcriber.job_name("a/b") != transcriber.job_name("a-b")
    assert transcriber.job_name(JOB_KEY).startswith(f"{JOB_KEY}-")


def test_transcribe_needs_an_s3_scratch_storage(tmp_path):
    with pytest.raises(ValueError, match="s3:// scratch storage"):
        AmazonTranscribeTranscriber(LocalStorage(tmp_path))


VTT = (
    "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\n<v Ana>Bom dia, pessoal.\n\n"
    "00:00:03.500 --> 00:00:05.000\n<v Bruno>Bom dia.\n"
)
SRT = "1\n00:00:01,000 --> 00:00:02,000\nLegenda SRT\n"


@pytest.fixture
def inbox(tmp_path, call_video) -> LocalStorage:
    (tmp_path / "inbox" / "calls").mkdir(parents=True)
    (tmp_path / "inbox" / "calls" / "call.mp4").write_bytes(call_video.read_bytes())
    return LocalStorage(tmp_path / "inbox")


def test_captions_beside_the_video_are_found_and_parsed(inbox, call_video):
    (inbox.root / "calls" / "call.vtt").write_text(VTT, encoding="utf-8")
    (inbox.root / "calls" / "call-other.srt").write_text(SRT, encoding="utf-8")
    video = video_info(call_video, "calls/call.mp4")
    transcript = CaptionTranscriber(inbox).transcribe(video, str(call_video), job_key=JOB_KEY)
    assert transcript.speakers == ["Ana", "Bruno"]
    assert transcript.segments[0].start == pytest.approx(1.0)
    assert transcript.duration == pytest.approx(5.0, abs=0.1)


def test_transcribe_json_beside_the_video_is_preferred_over_captions(inbox, call_video):
    (inbox.root / "calls" / "call.srt").write_text(SRT, encoding="utf-8")
    (inbox.root / "calls" / "call.JSON").write_bytes(transcribe_result("job", TURNS))
    video = video_info(call_video, "calls/call.mp4")
    transcript = CaptionTranscriber(inbox).transcribe(video, str(call_video), job_key=JOB_KEY)
    assert "CrashLoopBackOff" in transcript.text
    assert "Legenda" not in transcript.text


def test_an_explicit_captions_file_wins(inbox, call_video, tmp_path):
    (inbox.root / "calls" / "call.vtt").write_text(VTT, encoding="utf-8")
    explicit = tmp_path / "elsewhere.srt"
    explicit.write_text(SRT, encoding="utf-8")
    video = video_info(call_video, "calls/call.mp4")
    transcript = CaptionTranscriber(inbox, captions_path=explicit).transcribe(
        video, str(call_video), job_key=JOB_KEY
    )
    assert transcript.text == "Legenda SRT"


def test_a_missing_explicit_captions_file_is_an_input_error(inbox, call_video, tmp_path):
    video = video_info(call_video, "calls/call.mp4")
    with pytest.raises(InputError, match="captions file not found"):
        CaptionTranscriber(inbox, captions_path=tmp_path / "nope.vtt").transcribe(
            video, str(call_video), job_key=JOB_KEY
        )


def test_no_captions_beside_the_video_says_what_was_looked_for_and_what_to_do(inbox, call_video):
    video = video_info(call_video, "calls/call.mp4")
    with pytest.raises(InputError) as caught:
        CaptionTranscriber(inbox).transcribe(video, str(call_video), job_key=JOB_KEY)
    assert caught.value.source == "calls/call.mp4"
    assert caught.value.reason == (
        "no captions beside the video (looked for call.json, call.vtt, call.srt) and no "
        "transcriber configured: add captions, or set TECHNE_WHISPER_MODEL to a Whisper size "
        "name (e.g. small) or a CTranslate2 model folder to transcribe locally, or "
        "TECHNE_TRANSCRIBER=transcribe for Amazon Transcribe"
    )
