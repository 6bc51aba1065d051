"""ffprobe and ffmpeg: what a video holds, its audio for transcription, and frames at given times.

Every source is a local path or an http(s) URL (a presigned S3 URL): ffmpeg reads URLs with
range requests, so nothing here downloads a whole video or loads one into memory.
"""

from __future__ import annotations

import json
import math
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from techne_assets.core.errors import InputError
from techne_assets.core.frames import (
    DEFAULT_MAX_CHANGED_PIXELS,
    THUMBNAIL_HEIGHT,
    THUMBNAIL_WIDTH,
    Fingerprint,
)
from techne_assets.core.video import AudioStream, MediaInfo

PROBE_TIMEOUT_SECONDS = 120
FRAME_TIMEOUT_SECONDS = 120
# Audio extraction reads the whole file: a 3 h video over HTTP takes minutes, not hours.
AUDIO_TIMEOUT_SECONDS = 2 * 3600

# FLAC, not Opus: lossless input is what the recognizer does best on, Transcribe takes it
# as is, and a 3 h mono 16 kHz FLAC (~150–250 MB) is far under Transcribe's 2 GB limit.
AudioCodec = Literal["flac", "opus"]
_AUDIO_CONTAINERS: dict[str, tuple[str, str]] = {
    "flac": ("flac", "flac"),
    "opus": ("ogg", "libopus"),
}

# Presigned URLs expire mid-read on flaky links less often than connections drop:
# let ffmpeg's http protocol resume with a range request.
_HTTP_INPUT_OPTIONS = [
    "-reconnect",
    "1",
    "-reconnect_on_network_error",
    "1",
    "-reconnect_delay_max",
    "30",
]
_HTTP_TIMEOUT_MICROSECONDS = str(30 * 1_000_000)

_HTTP_FAILURES = {
    "404 Not Found": "file not found (HTTP 404)",
    "403 Forbidden": "access denied (HTTP 403: no read permission, or the presigned URL expired)",
}
_GENERIC_STDERR_LINES = {"Conversion failed!", "Exiting normally, received signal 2."}
_LOG_CONTEXT = re.compile(r"^\[[^\]]+ @ 0x[0-9a-f]+\]\s*")


class MediaToolMissing(RuntimeError):
    """ffmpeg/ffprobe is not installed: an environment problem, not the user's input."""


@dataclass(frozen=True)
class AudioPart:
    path: Path
    offset_seconds: float
    duration_seconds: float


@dataclass(frozen=True)
class Frame:
    at: float
    path: Path
    hash: str


@dataclass(frozen=True)
class DroppedFrame:
    """A frame not kept because it nearly repeats the kept frame at `duplicate_of`."""

    at: float
    duplicate_of: float
    distance: int


@dataclass(frozen=True)
class FailedFrame:
    """A time with no readable frame (past the end, a broken tail): the reason says why."""

    at: float
    reason: str


@dataclass(frozen=True)
class SceneChange:
    """A frame where the picture changes, with ffmpeg's scene score (0 same picture – 1 new one)."""

    at: float
    score: float


@dataclass(frozen=True)
class FrameSelection:
    kept: list[Frame]
    dropped: list[DroppedFrame]
    failed: list[FailedFrame] = field(default_factory=list)


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def display_name(source: str) -> str:
    """The source as it may appear in messages: URLs lose their query (a presigned signature)."""
    if not is_url(source):
        return source
    parts = urlsplit(source)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def probe(source: str, *, name: str | None = None) -> MediaInfo:
    """ffprobe's facts about `source`; `name` (e.g. the storage key) is what errors mention."""
    label = name or display_name(source)
    if not is_url(source):
        _check_local_file(Path(source), label)
    args = ["ffprobe", "-v", "error", *_input_options(source)]
    args += ["-show_format", "-show_streams", "-of", "json", source]
    proc = _run(args, source=source, label=label, timeout=PROBE_TIMEOUT_SECONDS)
    if proc.returncode != 0:
        reason = _stderr_reason(proc.stderr, source)
        if is_url(source):
            for status, meaning in _HTTP_FAILURES.items():
                if status in reason:
                    raise InputError(label, meaning)
        elif _looks_like_text(Path(source)):
            raise InputError(label, "not a video: the file is text")
        raise InputError(label, f"corrupt or unreadable video: {reason}")
    return _media_info(json.loads(proc.stdout or b"{}"), label)


def extract_audio(
    source: str,
    dest: Path,
    *,
    sample_rate: int = 16000,
    codec: AudioCodec = "flac",
    name: str | None = None,
) -> Path:
    """The first audio stream as mono `codec` at `sample_rate`, streamed from `source` to `dest`."""
    label = name or display_name(source)
    container, encoder = _AUDIO_CONTAINERS[codec]
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = dest.with_name(dest.name + ".partial")
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", *_input_options(source), "-i", source]
    args += ["-map", "0:a:0", "-vn", "-sn", "-dn", "-ac", "1", "-ar", str(sample_rate)]
    args += ["-c:a", encoder, "-f", container, str(partial)]
    proc = _run(args, source=source, label=label, timeout=AUDIO_TIMEOUT_SECONDS)
    if proc.returncode != 0:
        partial.unlink(missing_ok=True)
        stderr = proc.stderr.decode(errors="replace")
        if "matches no streams" in stderr:
            raise InputError(label, "no audio track")
        raise InputError(label, f"audio extraction failed: {_stderr_reason(proc.stderr, source)}")
    partial.replace(dest)
    return dest


def split_audio(path: Path, max_part_seconds: float, dest_dir: Path) -> list[AudioPart]:
    """Equal consecutive parts of at most `max_part_seconds` (Transcribe takes up to 4 h a file).

    Parts are re-encoded, not stream-copied, so each offset is exact to the sample.
    """
    if max_part_seconds <= 0:
        raise ValueError("max_part_seconds must be positive")
    duration = probe(str(path)).duration_seconds
    if duration <= max_part_seconds:
        return [AudioPart(path=path, offset_seconds=0.0, duration_seconds=duration)]
    count = math.ceil(duration / max_part_seconds)
    length = duration / count
    dest_dir.mkdir(parents=True, exist_ok=True)
    parts = []
    for index in range(count):
        offset = index * length
        part_path = dest_dir / f"part-{index:02d}{path.suffix}"
        args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{offset:.6f}", "-i", str(path)]
        if index < count - 1:
            args += ["-t", f"{length:.6f}"]
        args += ["-map", "0:a:0", str(part_path)]
        proc = _run(args, source=str(path), label=str(path), timeout=AUDIO_TIMEOUT_SECONDS)
        if proc.returncode != 0:
            raise InputError(
                str(path), f"audio split failed: {_stderr_reason(proc.stderr, str(path))}"
            )
        part_duration = probe(str(part_path)).duration_seconds
        parts.append(
            AudioPart(path=part_path, offset_seconds=offset, duration_seconds=part_duration)
        )
    return parts


def grab_frame(
    source: str, at_seconds: float, dest: Path, width: int = 1280, *, name: str | None = None
) -> Path:
    """The frame at `at_seconds`, at most `width` pixels wide, as `dest` (.jpg or .png)."""
    _grab(source, at_seconds, dest, width, name or display_name(source))
    return dest


def grab_frames(
    source: str,
    times: list[float],
    dest_dir: Path,
    *,
    width: int = 1280,
    max_changed_pixels: int = DEFAULT_MAX_CHANGED_PIXELS,
    name: str | None = None,
) -> FrameSelection:
    """Frames at `times` (sorted) as JPEGs.

    A frame nearly identical to the last kept one is dropped and its file deleted; a time with
    no readable frame is listed in `failed`, so one bad frame never costs the others.
    """
    label = name or display_name(source)
    dest_dir.mkdir(parents=True, exist_ok=True)
    kept: list[Frame] = []
    dropped: list[DroppedFrame] = []
    failed: list[FailedFrame] = []
    previous: tuple[float, Fingerprint] | None = None
    for at in sorted(times):
        dest = dest_dir / f"frame-{round(at * 1000):09d}ms.jpg"
        try:
            fingerprint = _grab(source, at, dest, width, label)
        except InputError as error:
            failed.append(FailedFrame(at=at, reason=error.reason))
            continue
        if previous is not None and fingerprint.is_near_duplicate_of(
            previous[1], max_changed_pixels=max_changed_pixels
        ):
            dest.unlink()
            dropped.append(
                DroppedFrame(
                    at=at, duplicate_of=previous[0], distance=fingerprint.distance(previous[1])
                )
            )
            continue
        kept.append(Frame(at=at, path=dest, hash=fingerprint.hex))
        previous = (at, fingerprint)
    return FrameSelection(kept=kept, dropped=dropped, failed=failed)


def grab_fingerprinted_frame(
    source: str, at_seconds: float, dest: Path, width: int = 1280, *, name: str | None = None
) -> Fingerprint:
    """Like `grab_frame`, and also the frame's gray thumbnail (to compare screens, spot black ones)."""
    return _grab(source, at_seconds, dest, width, name or display_name(source))


def scene_changes(
    source: str, start: float, end: float, threshold: float, *, name: str | None = None
) -> list[SceneChange]:
    """Frames in [start, end) whose scene score exceeds `threshold` (ffmpeg's `select` filter).

    Only keyframes are decoded (`-skip_frame nokey`): encoders start one at every scene cut and
    at least every few seconds, so consecutive keyframes show every new screen, and a 3-hour
    recording is scanned about ten times faster than by decoding every frame. They are scaled
    down before scoring: the score is a mean over pixels, so a small picture scores alike.
    """
    label = name or display_name(source)
    graph = f"scale=160:-2,select='gt(scene,{threshold})',metadata=print:file=-"
    args = ["ffmpeg", "-nostdin", "-v", "error", *_input_options(source), "-skip_frame", "nokey"]
    args += ["-ss", f"{start:.3f}", "-t", f"{max(end - start, 0):.3f}", "-copyts", "-i", source]
    args += ["-map", "0:v:0", "-vf", graph, "-f", "null", "-"]
    proc = _run(args, source=source, label=label, timeout=AUDIO_TIMEOUT_SECONDS)
    if proc.returncode != 0:
        raise InputError(label, f"scene detection failed: {_stderr_reason(proc.stderr, source)}")
    changes: list[SceneChange] = []
    at: float | None = None
    for line in proc.stdout.decode(errors="replace").splitlines():
        if "pts_time:" in line:
            at = float(line.rsplit("pts_time:", 1)[1].split()[0])
        elif line.startswith("lavfi.scene_score=") and at is not None:
            changes.append(SceneChange(at=at, score=float(line.split("=", 1)[1])))
            at = None
    return changes


def _grab(source: str, at_seconds: float, dest: Path, width: int, label: str) -> Fingerprint:
    """One decode, two outputs: the image file, and a tiny gray thumbnail on stdout for hashing."""
    if at_seconds < 0:
        raise ValueError("at_seconds must not be negative")
    if dest.suffix.lower() not in {".jpg", ".jpeg", ".png"}:
        raise ValueError(f"frame destination must be .jpg or .png, got {dest.name}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.unlink(missing_ok=True)
    graph = (
        f"[0:v:0]split=2[full][small];"
        f"[full]scale=w='min(iw,{width})':h=-2[image];"
        f"[small]scale={THUMBNAIL_WIDTH}:{THUMBNAIL_HEIGHT}:flags=area,format=gray[thumbnail]"
    )
    # -ss before -i: input seeking jumps to the nearest keyframe (an HTTP range request on a
    # URL) and decodes from there, instead of reading the video up to that point.
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", *_input_options(source)]
    args += ["-ss", f"{at_seconds:.3f}", "-i", source, "-filter_complex", graph]
    args += ["-map", "[image]", "-frames:v", "1", "-update", "1"]
    if dest.suffix.lower() != ".png":
        args += ["-q:v", "3"]
    args += [str(dest), "-map", "[thumbnail]", "-frames:v", "1", "-f", "rawvideo", "pipe:1"]
    proc = _run(args, source=source, label=label, timeout=FRAME_TIMEOUT_SECONDS)
    if proc.returncode != 0:
        dest.unlink(missing_ok=True)
        raise InputError(
            label, f"no frame at {at_seconds:.3f}s: {_stderr_reason(proc.stderr, source)}"
        )
    if not dest.exists() or len(proc.stdout) != THUMBNAIL_WIDTH * THUMBNAIL_HEIGHT:
        dest.unlink(missing_ok=True)
        raise InputError(label, f"no frame at {at_seconds:.3f}s (past the end of the video?)")
    return Fingerprint.from_thumbnail(proc.stdout)


def _media_info(data: dict, label: str) -> MediaInfo:
    streams = data.get("streams", [])
    fmt = data.get("format", {})
    format_name = fmt.get("format_name")
    video = next((s for s in streams if s.get("codec_type") == "video"), None)
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    if video is None and not audio:
        found = sorted({s.get("codec_type", "unknown") for s in streams}) or ["no streams"]
        raise InputError(label, f"not a video: no video or audio stream (found {', '.join(found)})")
    if format_name and (format_name.endswith("_pipe") or format_name == "image2"):
        raise InputError(
            label,
            f"not a video: a still image ({video.get('codec_name') if video else format_name})",
        )
    duration = _float(fmt.get("duration"))
    if duration is None:
        stream_durations = [d for s in streams if (d := _float(s.get("duration"))) is not None]
        duration = max(stream_durations, default=None)
    if duration is None:
        raise InputError(
            label,
            "corrupt or unreadable video: duration unknown"
            " (remux it: ffmpeg -i IN -c copy OUT.mp4)",
        )
    return MediaInfo(
        duration_seconds=duration,
        format_name=format_name,
        video_codec=video.get("codec_name") if video else None,
        creation_time=(fmt.get("tags") or {}).get("creation_time"),
        width=video.get("width") if video else None,
        height=video.get("height") if video else None,
        audio_streams=[
            AudioStream(
                index=s["index"],
                codec=s.get("codec_name"),
                channels=s.get("channels"),
                sample_rate=int(s["sample_rate"]) if s.get("sample_rate") else None,
                language=(s.get("tags") or {}).get("language"),
            )
            for s in audio
        ],
    )


def _float(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _check_local_file(path: Path, label: str) -> None:
    if not path.is_file():
        raise InputError(label, "file not found")
    if path.stat().st_size == 0:
        raise InputError(label, "empty file")


def _looks_like_text(path: Path) -> bool:
    with path.open("rb") as handle:
        head = handle.read(4096)
    if not head or b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as error:
        # A multi-byte character cut at the 4 KiB boundary is still text.
        if error.start < len(head) - 3:
            return False
        text = head[: error.start].decode("utf-8")
    return all(ch.isprintable() or ch in "\r\n\t\f" for ch in text)


def _input_options(source: str) -> list[str]:
    if not is_url(source):
        return []
    return [*_HTTP_INPUT_OPTIONS, "-rw_timeout", _HTTP_TIMEOUT_MICROSECONDS]


def _run(
    args: list[str], *, source: str, label: str, timeout: float
) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(args, capture_output=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise MediaToolMissing(f"{args[0]} is not installed or not on PATH") from None
    except subprocess.TimeoutExpired:
        raise InputError(
            label, f"{args[0]} gave up after {timeout:.0f}s reading {display_name(source)}"
        ) from None


def _stderr_reason(stderr: bytes, source: str) -> str:
    """The last meaningful stderr lines, without log prefixes or the (signed) source URL."""
    lines: list[str] = []
    for raw in stderr.decode(errors="replace").splitlines():
        line = _LOG_CONTEXT.sub("", raw).strip()
        for prefix in (f"{source}: ", f"{display_name(source)}: "):
            line = line.removeprefix(prefix)
        if line and line not in _GENERIC_STDERR_LINES and line not in lines:
            lines.append(line.replace(source, display_name(source)))
    if not lines:
        return "no error message"
    # The last line is often generic ("Invalid data found when processing input"); the line
    # before it usually names the actual defect ("moov atom not found").
    return "; ".join(lines[-2:])[:300]
