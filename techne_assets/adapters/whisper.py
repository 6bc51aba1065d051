"""Local speech recognition with faster-whisper (Whisper on CTranslate2: CPU int8 or GPU).

The input is the audio track ffmpeg extracts (mono 16 kHz FLAC), never the video: faster-whisper
decodes that file into memory as float32 samples (~230 MB per hour of audio). The voice-activity
filter is on by default, so silence yields no segments instead of invented text.

The raw result is cached in the durable asset store under the audio's content hash and a digest of
the model and the options that shape the result, so re-materializing the transcript of the same
audio with the same model reads the cache instead of running the model again.

faster-whisper is an optional extra (`whisper`); it is imported only when a model is used.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from techne_assets.adapters import media
from techne_assets.adapters.storage import Storage
from techne_assets.core.errors import InputError
from techne_assets.core.recognition import Recognition, RecognizedSegment, RecognizedWord
from techne_assets.core.transcript import Transcript, format_timestamp
from techne_assets.core.video import VideoInfo

WhisperDevice = Literal["auto", "cpu", "cuda"]
ProgressReport = Callable[[str], None]

PROGRESS_INTERVAL_SECONDS = 30.0
CACHE_PREFIX = "transcripts/whisper"
INSTALL_HINT = "pip install 'techne-assets[whisper]'"
# What a CTranslate2 Whisper folder holds. tokenizer.json is required too: without it
# faster-whisper fetches a tokenizer from the Hugging Face Hub, and nothing here goes online.
MODEL_FILES = ("model.bin", "config.json", "tokenizer.json")
_OUT_OF_MEMORY = re.compile(
    r"out of memory|failed to allocate|bad_alloc|cannot allocate", re.IGNORECASE
)
_HASH_BLOCK = 1 << 20


class SpeechModelError(InputError):
    """The configured model cannot be used (missing, not a model, no device, out of memory)."""


@dataclass(frozen=True)
class WhisperOptions:
    """How to run Whisper. `model` is a size name (`small`, `large-v3`, …; fetched into
    `cache_dir` when `download` allows it) or a CTranslate2 model folder."""

    model: str
    device: WhisperDevice = "auto"
    compute_type: str = "default"
    threads: int = 0
    language: str | None = "pt"
    cache_dir: str | None = None
    download: bool = True
    vad_filter: bool = True
    beam_size: int = 5


@dataclass(frozen=True)
class ResolvedModel:
    path: Path
    name: str
    digest: str


class ProgressLog:
    """Reports how far recognition has got, as a share of the audio, at most every `interval`."""

    def __init__(
        self,
        report: ProgressReport,
        label: str,
        total_seconds: float,
        *,
        interval: float = PROGRESS_INTERVAL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._report = report
        self._label = label
        self._total = max(total_seconds, 0.0)
        self._interval = interval
        self._clock = clock
        self._started = clock()
        self._last_report = self._started

    def start(self, model: str, device: str, compute_type: str) -> None:
        self._report(
            f"whisper: transcribing {self._label} ({format_timestamp(self._total)} of audio) "
            f"with {model} on {device} ({compute_type})"
        )

    def advance(self, position_seconds: float) -> None:
        now = self._clock()
        if now - self._last_report < self._interval:
            return
        self._last_report = now
        elapsed = now - self._started
        share = min(position_seconds / self._total, 1.0) if self._total else 1.0
        remaining = f", about {elapsed * (1 - share) / share:.0f}s left" if share > 0 else ""
        self._report(
            f"whisper: {self._label} {share:.0%} of the audio "
            f"({format_timestamp(position_seconds)}) after {elapsed:.0f}s{remaining}"
        )

    def finish(self, segments: int) -> None:
        elapsed = self._clock() - self._started
        speed = f", {self._total / elapsed:.1f}x real time" if elapsed > 0 else ""
        self._report(
            f"whisper: {self._label} 100% of the audio: {segments} segments in {elapsed:.0f}s{speed}"
        )


class WhisperTranscriber:
    """Extracted audio → faster-whisper → a `Transcript` with word timings in its metadata."""

    name = "whisper"

    def __init__(
        self,
        result_store: Storage,
        options: WhisperOptions,
        *,
        progress: ProgressReport | None = None,
        scratch_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.result_store = result_store
        self.options = options
        self._progress = progress or (lambda _message: None)
        self.scratch_dir = scratch_dir
        self._clock = clock
        self._resolved: ResolvedModel | None = None
        self._model = None
        self._device: tuple[str, str] | None = None

    def transcribe(self, video: VideoInfo, media_url: str, *, job_key: str) -> Transcript:
        if not video.media.audio_streams:
            raise InputError(video.key, "no audio track")
        model = self.resolved_model()
        with tempfile.TemporaryDirectory(prefix="whisper-", dir=self.scratch_dir) as scratch:
            audio = media.extract_audio(media_url, Path(scratch) / "audio.flac", name=video.key)
            cache_key = (
                f"{CACHE_PREFIX}/{_file_sha256(audio)[:32]}-{self._result_digest(model)}.json"
            )
            if self.result_store.exists(cache_key):
                self._progress(f"whisper: reusing the stored result for {video.key} ({cache_key})")
                cached = Recognition.model_validate_json(self.result_store.read_bytes(cache_key))
                return cached.to_transcript()
            recognition = self.recognize(audio, label=video.key)
        self.result_store.write_bytes(
            cache_key, recognition.model_dump_json().encode(), "application/json"
        )
        return recognition.to_transcript()

    def recognize(self, audio: Path, *, label: str) -> Recognition:
        """Runs the model over `audio` (any file ffmpeg's libraries decode)."""
        model = self.load_model()
        device, compute_type = self._device_and_compute_type()
        language = self.options.language or None
        try:
            raw_segments, info = model.transcribe(
                str(audio),
                language=language,
                beam_size=self.options.beam_size,
                vad_filter=self.options.vad_filter,
                word_timestamps=True,
            )
            progress = ProgressLog(self._progress, label, info.duration, clock=self._clock)
            progress.start(self.resolved_model().name, device, compute_type)
            segments = []
            for raw in raw_segments:
                segments.append(_segment(raw))
                progress.advance(float(raw.end))
        except (RuntimeError, MemoryError) as error:
            raise self._runtime_error(error, label, device) from None
        progress.finish(len(segments))
        return Recognition(
            model=self.resolved_model().name,
            language=info.language,
            language_probability=float(info.language_probability),
            audio_duration=float(info.duration),
            vad_filter=self.options.vad_filter,
            segments=segments,
        )

    def resolved_model(self) -> ResolvedModel:
        """The model folder behind `options.model`, checked; no network unless it must download."""
        if self._resolved is None:
            self._resolved = resolve_model(self.options)
        return self._resolved

    def _result_digest(self, model: ResolvedModel) -> str:
        """The model and every option that changes what it says, but not where it runs."""
        shaping = {
            "model": model.digest,
            "compute_type": self.options.compute_type,
            "language": self.options.language or None,
            "vad_filter": self.options.vad_filter,
            "beam_size": self.options.beam_size,
            "word_timestamps": True,
        }
        return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:16]

    def _device_and_compute_type(self) -> tuple[str, str]:
        if self._device is None:
            ctranslate2 = _import("ctranslate2")
            gpus = ctranslate2.get_cuda_device_count()
            device = self.options.device
            if device == "cuda" and gpus == 0:
                raise SpeechModelError(
                    "TECHNE_WHISPER_DEVICE=cuda",
                    "no CUDA device available (set TECHNE_WHISPER_DEVICE=cpu or auto)",
                )
            if device == "auto":
                device = "cuda" if gpus > 0 else "cpu"
            compute_type = self.options.compute_type
            if compute_type == "default":
                compute_type = "float16" if device == "cuda" else "int8"
            self._device = (device, compute_type)
        return self._device

    def load_model(self):
        """The loaded model: loaded on first use, or ahead of it by calling this."""
        if self._model is None:
            resolved = self.resolved_model()
            device, compute_type = self._device_and_compute_type()
            faster_whisper = _import("faster_whisper")
            try:
                self._model = faster_whisper.WhisperModel(
                    str(resolved.path),
                    device=device,
                    compute_type=compute_type,
                    cpu_threads=self.options.threads or os.cpu_count() or 1,
                    local_files_only=True,
                )
            except (RuntimeError, MemoryError, ValueError) as error:
                raise self._runtime_error(
                    error, f"TECHNE_WHISPER_MODEL={self.options.model}", device
                ) from None
        return self._model

    def _runtime_error(self, error: BaseException, source: str, device: str) -> SpeechModelError:
        message = " ".join(str(error).split()) or type(error).__name__
        if isinstance(error, MemoryError) or _OUT_OF_MEMORY.search(message):
            return SpeechModelError(
                source,
                f"out of memory on {device} running whisper model {self.resolved_model().name} "
                f"({message}): use a smaller model, TECHNE_WHISPER_COMPUTE_TYPE=int8, or another device",
            )
        return SpeechModelError(
            source, f"whisper model {self.resolved_model().name} failed on {device}: {message}"
        )


def resolve_model(options: WhisperOptions) -> ResolvedModel:
    """`options.model` as a checked CTranslate2 model folder.

    A size name is looked up in `cache_dir` first (no network); only when it is not there, and
    `download` allows it, is it fetched from the Hugging Face Hub into `cache_dir`.
    """
    value = options.model.strip()
    setting = f"TECHNE_WHISPER_MODEL={value}"
    if not value:
        raise SpeechModelError(
            "TECHNE_WHISPER_MODEL",
            "no whisper model configured: set it to a size name (e.g. small) or a CTranslate2 "
            "model folder",
        )
    folder = Path(value).expanduser()
    if folder.is_dir():
        return _checked_folder(folder, setting, name=_folder_name(folder))
    utils = _import("faster_whisper.utils")
    if value not in utils.available_models():
        raise SpeechModelError(
            setting,
            "no such model folder, and not a Whisper size name "
            f"({', '.join(utils.available_models())})",
        )
    path = _cached_or_downloaded(value, options, setting)
    return _checked_folder(path, setting, name=value)


def _cached_or_downloaded(size: str, options: WhisperOptions, setting: str) -> Path:
    utils = _import("faster_whisper.utils")
    hub_errors = _import("huggingface_hub.errors")
    cache = options.cache_dir or "the Hugging Face cache"
    try:
        return Path(utils.download_model(size, local_files_only=True, cache_dir=options.cache_dir))
    except hub_errors.LocalEntryNotFoundError:
        if not options.download:
            raise SpeechModelError(
                setting,
                f"model not found in {cache} and TECHNE_WHISPER_DOWNLOAD=false: download it on a "
                "machine with internet access into that folder, or set a CTranslate2 model folder",
            ) from None
    try:
        return Path(utils.download_model(size, cache_dir=options.cache_dir))
    except Exception as error:  # noqa: BLE001 - any download failure is reported the same way
        reason = " ".join(str(error).split())[:200]
        raise SpeechModelError(
            setting, f"model not found in {cache} and its download failed: {reason}"
        ) from None


def _checked_folder(folder: Path, setting: str, *, name: str) -> ResolvedModel:
    missing = [file for file in MODEL_FILES if not (folder / file).is_file()]
    if missing:
        raise SpeechModelError(
            setting,
            f"not a CTranslate2 Whisper model folder (missing {', '.join(missing)}); convert one "
            "with ct2-transformers-converter or use a size name such as small",
        )
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SpeechModelError(
            setting, "not a CTranslate2 Whisper model folder (config.json is not JSON)"
        ) from None
    identity = {
        "config": config,
        "model_bytes": (folder / "model.bin").stat().st_size,
        "tokenizer": hashlib.sha256((folder / "tokenizer.json").read_bytes()).hexdigest(),
    }
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    return ResolvedModel(path=folder, name=name, digest=digest)


def _folder_name(folder: Path) -> str:
    """A readable name for a model folder: its own name, with its parent's when generic."""
    resolved = folder.resolve()
    if resolved.name in {"model", "models", "snapshot"} and resolved.parent.name:
        return f"{resolved.parent.name}/{resolved.name}"
    return resolved.name


def _segment(raw) -> RecognizedSegment:
    return RecognizedSegment(
        start=float(raw.start),
        end=float(raw.end),
        text=raw.text,
        words=[
            RecognizedWord(
                start=float(word.start),
                end=float(word.end),
                text=word.word,
                probability=float(word.probability),
            )
            for word in raw.words or []
        ],
    )


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK):
            digest.update(block)
    return digest.hexdigest()


def _import(module: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise SpeechModelError(
            "TECHNE_TRANSCRIBER=whisper", f"faster-whisper is not installed ({INSTALL_HINT})"
        ) from None
