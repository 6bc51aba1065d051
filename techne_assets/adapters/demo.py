"""Records the sample training call: espeak-ng voices over slides, muxed by ffmpeg into an MP4 with captions."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

from techne_assets.core.demo_script import DEMO_LINES, SPEAKER_VOICES, DemoLine

PAUSE_SECONDS = 0.6
SAMPLE_RATE = 22050
DEMO_STEM = "treinamento-k8s-crashloop"


def _require(program: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise RuntimeError(f"{program} is not installed; run `make setup` (it installs ffmpeg and espeak-ng)")
    return path


def _speak(line: DemoLine, dest: Path) -> None:
    subprocess.run(
        [_require("espeak-ng"), "-v", SPEAKER_VOICES[line.speaker], "-s", "165", "-w", str(dest), line.text],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{millis:03d}"


def _join_speech(parts: list[Path], dest: Path) -> list[tuple[float, float]]:
    """Concatenates the voices with pauses; returns each line's (start, end) in seconds."""
    spans: list[tuple[float, float]] = []
    pause = b"\x00\x00" * int(PAUSE_SECONDS * SAMPLE_RATE)
    with wave.open(str(dest), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        position = PAUSE_SECONDS
        out.writeframes(pause)
        for part in parts:
            with wave.open(str(part), "rb") as voice:
                if (voice.getnchannels(), voice.getsampwidth(), voice.getframerate()) != (1, 2, SAMPLE_RATE):
                    raise RuntimeError(f"unexpected espeak-ng output format in {part.name}")
                frames = voice.readframes(voice.getnframes())
                length = voice.getnframes() / SAMPLE_RATE
            out.writeframes(frames + pause)
            spans.append((position, position + length))
            position += length + PAUSE_SECONDS
    return spans


def _drawtext(text_file: Path, start: float, end: float) -> str:
    return (
        f"drawtext=fontfile=/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf:textfile='{text_file}':"
        f"fontcolor=0xe2e8f0:fontsize=30:line_spacing=14:x=60:y=200:"
        f"enable='between(t,{start:.3f},{end:.3f})'"
    )


def record_demo(inbox: Path) -> tuple[Path, Path]:
    """Writes `<stem>.mp4` and `<stem>.vtt` into `inbox`; returns both paths."""
    ffmpeg = _require("ffmpeg")
    inbox.mkdir(parents=True, exist_ok=True)
    video_path, captions_path = inbox / f"{DEMO_STEM}.mp4", inbox / f"{DEMO_STEM}.vtt"
    with tempfile.TemporaryDirectory(prefix="techne-demo-") as tmp:
        work = Path(tmp)
        voices = []
        for index, line in enumerate(DEMO_LINES):
            voices.append(work / f"line-{index:02d}.wav")
            _speak(line, voices[-1])
        speech = work / "speech.wav"
        spans = _join_speech(voices, speech)
        total = spans[-1][1] + PAUSE_SECONDS
        filters = []
        for index, (line, (start, _)) in enumerate(zip(DEMO_LINES, spans, strict=True)):
            screen_until = spans[index + 1][0] if index + 1 < len(spans) else total
            text_file = work / f"screen-{index:02d}.txt"
            text_file.write_text(line.screen, encoding="utf-8")
            filters.append(_drawtext(text_file, start if index else 0.0, screen_until))
        partial = video_path.with_name(f".{video_path.name}.partial.mp4")
        subprocess.run(
            [
                ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
                "-f", "lavfi", "-i", f"color=c=0x0f172a:s=1280x720:r=5:d={total:.3f}",
                "-i", str(speech),
                "-vf", ",".join(filters),
                "-c:v", "libx264", "-preset", "veryfast", "-tune", "stillimage", "-pix_fmt", "yuv420p",
                "-c:a", "aac", "-b:a", "64k", "-shortest", "-movflags", "+faststart",
                str(partial),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
        partial.replace(video_path)
    cues = ["WEBVTT", ""]
    for index, (line, (start, end)) in enumerate(zip(DEMO_LINES, spans, strict=True), start=1):
        cues += [str(index), f"{_vtt_time(start)} --> {_vtt_time(end)}", f"<v {line.speaker}>{line.text}", ""]
    captions_path.write_text("\n".join(cues), encoding="utf-8")
    return video_path, captions_path
