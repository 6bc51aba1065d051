"""Speech to `Transcript`: caption files beside the video, Amazon Transcribe, or local Whisper
(adapters/whisper.py); `AutoTranscriber` picks captions when they are there, else Whisper.

All sides implement `Transcriber`. `media_url` is anything ffmpeg reads (a path or a presigned
URL); `job_key` (partition key + content hash) makes a rerun find the work already done.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel
from tenacity import RetryError, Retrying, retry_if_result, wait_exponential

from techne_assets.adapters import media
from techne_assets.adapters.storage import Storage, video_source
from techne_assets.core.captions import parse_transcript
from techne_assets.core.errors import InputError
from techne_assets.core.transcript import Segment, Transcript
from techne_assets.core.video import VideoInfo

# Richest first: Transcribe JSON has diarized speakers and word times, WebVTT may name
# speakers (<v Name>, as Teams and Zoom export it), SRT never does.
CAPTION_SUFFIXES = (".json", ".vtt", ".srt")

TRANSCRIBE_MAX_PART_SECONDS = 4 * 3600
_JOB_NAME_MAX = 200
_JOB_NAME_FORBIDDEN = re.compile(r"[^0-9A-Za-z._-]+")
_RUNNING = {"QUEUED", "IN_PROGRESS"}
_AUDIO_CODEC = "flac"
_MAX_RERUNS = 99
HOW_TO_CONFIGURE_A_TRANSCRIBER = (
    "set TECHNE_WHISPER_MODEL to a Whisper size name (e.g. small) or a CTranslate2 model folder "
    "to transcribe locally, or TECHNE_TRANSCRIBER=transcribe for Amazon Transcribe"
)


class Transcriber(Protocol):
    name: str

    def transcribe(self, video: VideoInfo, media_url: str, *, job_key: str) -> Transcript: ...


class TranscriptionFailed(Exception):
    """Amazon Transcribe reported the job FAILED; `reason` is its FailureReason."""

    def __init__(self, job_name: str, reason: str):
        self.job_name = job_name
        self.reason = reason
        super().__init__(f"transcription job {job_name} failed: {reason}")


class TranscriptionTimedOut(TranscriptionFailed):
    """Still running at the deadline. The job goes on in AWS: a rerun resumes waiting for it."""

    def __init__(self, job_name: str, status: str, waited_seconds: float):
        self.status = status
        self.waited_seconds = waited_seconds
        super().__init__(
            job_name,
            f"still {status} after {waited_seconds:.0f}s (raise TECHNE_TRANSCRIBE_TIMEOUT_SECONDS, "
            "or rerun later: the job keeps running and will be reused)",
        )


class CaptionTranscriber:
    """Reads a caption file: `captions_path`, or the one beside the video (same stem)."""

    name = "captions"

    def __init__(self, input_storage: Storage, captions_path: Path | None = None):
        self.input_storage = input_storage
        self.captions_path = captions_path

    def transcribe(self, video: VideoInfo, media_url: str, *, job_key: str) -> Transcript:
        if self.captions_path is not None:
            if not self.captions_path.is_file():
                raise InputError(str(self.captions_path), "captions file not found")
            transcript = parse_transcript(self.captions_path.read_bytes(), str(self.captions_path))
        else:
            storage, key = self._caption_key(video.key)
            transcript = parse_transcript(storage.read_bytes(key), storage.uri(key))
        if transcript.duration is None:
            transcript = transcript.model_copy(update={"duration": video.media.duration_seconds})
        return transcript

    def has_captions(self, video_key: str) -> bool:
        """Whether a caption file would be read for `video_key` (the given one, or one beside it)."""
        return self.captions_path is not None or self._find_caption_key(video_key) is not None

    def _find_caption_key(self, video_key: str) -> tuple[Storage, str] | None:
        """(storage, key) of the captions beside the video the reference names."""
        storage, key = video_source(video_key, self.input_storage)
        stem = _stem(key)
        # One listing instead of one request per suffix; matching ignores the suffix's case.
        beside = {
            obj.key[len(stem) :].lower(): obj.key
            for obj in storage.list_objects(prefix=f"{stem}.")
        }
        for suffix in CAPTION_SUFFIXES:
            if suffix in beside:
                return storage, beside[suffix]
        return None

    def _caption_key(self, video_key: str) -> tuple[Storage, str]:
        found = self._find_caption_key(video_key)
        if found is not None:
            return found
        stem = _stem(video_key)
        looked_for = ", ".join(f"{stem.rsplit('/', 1)[-1]}{suffix}" for suffix in CAPTION_SUFFIXES)
        raise InputError(
            video_key,
            f"no captions beside the video (looked for {looked_for}) and no transcriber "
            f"configured: add captions, or {HOW_TO_CONFIGURE_A_TRANSCRIBER}",
        )


class AutoTranscriber:
    """The local default: the captions beside the video when there are any, else `fallback`
    (Whisper, when a model is configured), else the captions' own error saying what to set."""

    name = "auto"

    def __init__(self, captions: CaptionTranscriber, fallback: Transcriber | None = None):
        self.captions = captions
        self.fallback = fallback

    def transcribe(self, video: VideoInfo, media_url: str, *, job_key: str) -> Transcript:
        if self.fallback is None or self.captions.has_captions(video.key):
            return self.captions.transcribe(video, media_url, job_key=job_key)
        return self.fallback.transcribe(video, media_url, job_key=job_key)


def _stem(video_key: str) -> str:
    return video_key.rsplit(".", 1)[0] if "." in video_key.rsplit("/", 1)[-1] else video_key


class AudioPartRecord(BaseModel):
    key: str
    offset_seconds: float
    duration_seconds: float
    size: int


class AudioParts(BaseModel):
    """Written beside the uploaded parts: a rerun needs neither ffmpeg nor the video again."""

    parts: list[AudioPartRecord]


class AmazonTranscribeTranscriber:
    """Extracted audio (split past `max_part_seconds`) → a Transcribe job per part → one transcript.

    Jobs are named after `job_key` and the job settings, so a rerun finds a COMPLETED job and
    reads its result instead of paying for it again, or resumes waiting for a running one.
    The scratch storage must be S3: Transcribe reads the audio from it and writes results to it.
    Scratch expires (Transcribe keeps a job's record 90 days): a COMPLETED job whose result file
    is gone is run again under the next free name (`<name>-r1`, `-r2`, ...), and audio parts
    that are gone are extracted again.
    """

    name = "transcribe"

    def __init__(
        self,
        scratch_storage: Storage,
        language: str = "pt-BR",
        identify_language: bool = False,
        language_options: Sequence[str] = ("en-US", "es-US"),
        max_speakers: int = 10,
        vocabulary: str | None = None,
        timeout_seconds: float = 6 * 3600,
        max_part_seconds: float = TRANSCRIBE_MAX_PART_SECONDS,
        poll_initial_seconds: float = 5.0,
        poll_max_seconds: float = 60.0,
        client=None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        scratch_dir: Path | None = None,
        region: str | None = None,
    ):
        if not scratch_storage.root_uri.startswith("s3://"):
            raise ValueError(
                "Amazon Transcribe needs an s3:// scratch storage (TECHNE_SCRATCH_URI), "
                f"not {scratch_storage.root_uri}"
            )
        self.scratch_storage = scratch_storage
        self.language = language
        self.identify_language = identify_language
        self.language_options = list(dict.fromkeys([language, *language_options]))
        self.max_speakers = max_speakers
        self.vocabulary = vocabulary
        self.timeout_seconds = timeout_seconds
        self.max_part_seconds = max_part_seconds
        self.poll_initial_seconds = poll_initial_seconds
        self.poll_max_seconds = poll_max_seconds
        self._client = client
        self._sleep = sleep
        self._clock = clock
        self.scratch_dir = scratch_dir
        self.region = region

    @property
    def client(self):
        if self._client is None:
            self._client = boto3.client("transcribe", region_name=self.region)
        return self._client

    def transcribe(self, video: VideoInfo, media_url: str, *, job_key: str) -> Transcript:
        if not video.media.audio_streams:
            raise InputError(video.key, "no audio track")
        parts = self._uploaded_parts(video, media_url, _safe_key(job_key))
        names, pending = [], []
        for index, part in enumerate(parts.parts):
            name, status = self._job_for(self.job_name(job_key, index, len(parts.parts)), part.key)
            names.append(name)
            if status in _RUNNING:
                pending.append(name)
        deadline = self._clock() + self.timeout_seconds
        for name in pending:
            self._wait(name, deadline)
        segments: list[Segment] = []
        language = None
        for index, (name, part) in enumerate(zip(names, parts.parts)):
            result_key = _result_key(name)
            part_transcript = parse_transcript(
                self.scratch_storage.read_bytes(result_key), self.scratch_storage.uri(result_key)
            )
            language = language or part_transcript.language
            segments += _shifted(
                part_transcript.segments, part.offset_seconds, index, len(parts.parts)
            )
        return Transcript(
            language=language or self.language,
            duration=video.media.duration_seconds,
            segments=segments,
        )

    def _uploaded_parts(self, video: VideoInfo, media_url: str, safe_key: str) -> AudioParts:
        manifest_key = f"audio/{safe_key}/parts.json"
        if self.scratch_storage.exists(manifest_key):
            recorded = AudioParts.model_validate_json(self.scratch_storage.read_bytes(manifest_key))
            if all(self.scratch_storage.exists(part.key) for part in recorded.parts):
                return recorded
        with tempfile.TemporaryDirectory(dir=self.scratch_dir) as scratch:
            audio = media.extract_audio(
                media_url,
                Path(scratch) / f"audio.{_AUDIO_CODEC}",
                codec=_AUDIO_CODEC,
                name=video.key,
            )
            records = []
            for index, part in enumerate(
                media.split_audio(audio, self.max_part_seconds, Path(scratch) / "parts")
            ):
                key = f"audio/{safe_key}/part-{index:02d}.{_AUDIO_CODEC}"
                size = part.path.stat().st_size
                stored = self.scratch_storage
                if not (stored.exists(key) and stored.stat(key).size == size):
                    stored.upload_file(key, part.path, content_type="audio/flac")
                records.append(
                    AudioPartRecord(
                        key=key,
                        offset_seconds=part.offset_seconds,
                        duration_seconds=part.duration_seconds,
                        size=size,
                    )
                )
        parts = AudioParts(parts=records)
        self.scratch_storage.write_bytes(
            manifest_key, parts.model_dump_json().encode(), "application/json"
        )
        return parts

    def _job_settings(self) -> dict:
        """The StartTranscriptionJob arguments that shape the result (and so the job's name)."""
        settings: dict = {"ShowSpeakerLabels": True, "MaxSpeakerLabels": self.max_speakers}
        arguments: dict = {"MediaFormat": _AUDIO_CODEC, "Settings": settings}
        if self.identify_language:
            arguments["IdentifyLanguage"] = True
            arguments["LanguageOptions"] = self.language_options
            if self.vocabulary:
                # With language identification a vocabulary is given per language.
                arguments["LanguageIdSettings"] = {
                    self.language: {"VocabularyName": self.vocabulary}
                }
        else:
            arguments["LanguageCode"] = self.language
            if self.vocabulary:
                settings["VocabularyName"] = self.vocabulary
        return arguments

    def job_name(self, job_key: str, index: int = 0, count: int = 1) -> str:
        """Transcribe's job name for part `index` of `count`: stable, `[0-9A-Za-z._-]`, ≤ 200 chars."""
        # Changing the language, speakers or vocabulary must not reuse an old job's result.
        digest = hashlib.sha256(
            json.dumps(self._job_settings(), sort_keys=True).encode()
        ).hexdigest()[:8]
        return f"{_safe_key(job_key)}-{digest}-p{index:02d}of{count:02d}"

    def _job_for(self, job_name: str, audio_key: str) -> tuple[str, str]:
        """(name, status) of the job whose result this part reads: `job_name`, or the first
        rerun name that is not a COMPLETED job whose result file has expired."""
        for rerun in range(_MAX_RERUNS + 1):
            name = job_name if rerun == 0 else f"{job_name}-r{rerun}"
            job = self._get_job(name)
            expired = (
                job is not None
                and job["TranscriptionJobStatus"] == "COMPLETED"
                and not self.scratch_storage.exists(_result_key(name))
            )
            if not expired:
                return name, self._start_unless_known(name, audio_key, job)
        raise TranscriptionFailed(
            job_name, f"{_MAX_RERUNS} reruns all lost their result files (is scratch expiring early?)"
        )

    def _start_unless_known(self, job_name: str, audio_key: str, job: dict | None) -> str:
        """The job's status, starting it first if Transcribe has never heard of it."""
        if job is not None and job["TranscriptionJobStatus"] != "FAILED":
            return job["TranscriptionJobStatus"]
        if job is not None:
            # Failed jobs are not billed, and a rerun is how a user retries one (transient
            # service errors happen): the name is freed and the job started afresh.
            self.client.delete_transcription_job(TranscriptionJobName=job_name)
        bucket, output_key = _split_s3_uri(self.scratch_storage.uri(_result_key(job_name)))
        try:
            response = self.client.start_transcription_job(
                TranscriptionJobName=job_name,
                Media={"MediaFileUri": self.scratch_storage.uri(audio_key)},
                OutputBucketName=bucket,
                OutputKey=output_key,
                **self._job_settings(),
            )
        except ClientError as error:
            # Another run started the same job between our Get and Start: wait for theirs.
            if error.response["Error"]["Code"] == "ConflictException":
                return "QUEUED"
            raise
        return self._checked_status(response["TranscriptionJob"])

    def _wait(self, job_name: str, deadline: float) -> None:
        started = self._clock()
        retrying = Retrying(
            retry=retry_if_result(lambda status: status in _RUNNING),
            wait=wait_exponential(
                multiplier=self.poll_initial_seconds,
                min=self.poll_initial_seconds,
                max=self.poll_max_seconds,
            ),
            stop=lambda _state: self._clock() >= deadline,
            sleep=self._sleep,
        )
        try:
            retrying(self._poll_status, job_name)
        except RetryError as error:
            raise TranscriptionTimedOut(
                job_name, error.last_attempt.result(), self._clock() - started
            ) from None

    def _poll_status(self, job_name: str) -> str:
        job = self._get_job(job_name)
        if job is None:
            raise TranscriptionFailed(
                job_name, "the job disappeared while being waited for (deleted?)"
            )
        return self._checked_status(job)

    def _checked_status(self, job: dict) -> str:
        status = job["TranscriptionJobStatus"]
        if status == "FAILED":
            raise TranscriptionFailed(
                job["TranscriptionJobName"], job.get("FailureReason", "no reason given")
            )
        return status

    def _get_job(self, job_name: str) -> dict | None:
        try:
            return self.client.get_transcription_job(TranscriptionJobName=job_name)[
                "TranscriptionJob"
            ]
        except ClientError as error:
            details = error.response["Error"]
            if details["Code"] == "BadRequestException" and "couldn't be found" in details.get(
                "Message", ""
            ):
                return None
            raise


def _result_key(job_name: str) -> str:
    return f"transcripts/raw/{job_name}.json"


def _safe_key(job_key: str) -> str:
    """`job_key` in Transcribe's job-name alphabet, leaving room for the name's suffix; a digest
    keeps keys that had to be changed (or shortened) distinct."""
    max_length = _JOB_NAME_MAX - len("-12345678-p00of00-r99")
    name = _JOB_NAME_FORBIDDEN.sub("-", job_key).strip("-.") or "job"
    if name == job_key and len(name) <= max_length:
        return name
    digest = hashlib.sha256(job_key.encode()).hexdigest()[:10]
    return f"{name[: max_length - len(digest) - 1]}-{digest}"


def _split_s3_uri(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _shifted(segments: list[Segment], offset: float, index: int, count: int) -> list[Segment]:
    """Part-relative times made absolute. Speaker labels are per job, so with several parts
    "spk_0" of one part is not "spk_0" of another: each part's labels are kept apart."""
    shifted = []
    for segment in segments:
        speaker = segment.speaker
        if speaker is not None and count > 1:
            speaker = f"{speaker} (parte {index + 1})"
        shifted.append(
            segment.model_copy(
                update={
                    "start": segment.start + offset,
                    "end": segment.end + offset,
                    "speaker": speaker,
                }
            )
        )
    return shifted
