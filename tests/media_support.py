"""Small generated test media: videos whose frame at second t is recognizable without OCR."""

from __future__ import annotations

import subprocess
from pathlib import Path

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
WIDTH, HEIGHT = 160, 120
FRAME_RATE = 10


def level_for_second(second: int) -> int:
    """The background's luma (limited range, 16–235) written during whole second `second`."""
    return 20 + (30 * second) % 210


def gray_for_second(second: int) -> float:
    """That luma as a full-range gray value, which is what `format=gray` reads back."""
    return (level_for_second(second) - 16) * 255 / 219


def make_test_video(
    path: Path,
    seconds: float,
    *,
    with_audio: bool = True,
    frame_shows_time: bool = True,
    still_between: tuple[int, int] | None = None,
) -> Path:
    """A 160x120 H.264 video (with a 440 Hz AAC tone unless `with_audio` is false).

    During second t the background is the flat gray `level_for_second(t)` and, if
    `frame_shows_time`, t is drawn big on the right half; the left quarter stays flat.
    `still_between=(a, b)`: from second a up to b the picture stays as it was at second a.
    """
    shown = (
        "floor(T)"
        if still_between is None
        else f"if(between(T,{still_between[0]},{still_between[1]}),{still_between[0]},floor(T))"
    )
    video_filter = f"geq=lum='20+mod(30*({shown}),210)':cb=128:cr=128"
    if frame_shows_time:
        if not FONT.exists():
            raise RuntimeError(f"test font missing: {FONT} (install fonts-dejavu-core)")
        text_value = (
            "t"
            if still_between is None
            else (f"if(between(t,{still_between[0]},{still_between[1]}),{still_between[0]},t)")
        )
        video_filter += (
            f",drawtext=fontfile={FONT}:text='%{{eif\\:{text_value}\\:d}}':fontsize=90"
            ":fontcolor=white:x=w-tw-4:y=(h-th)/2"
        )
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi"]
    args += [
        "-i",
        f"color=c=black:size={WIDTH}x{HEIGHT}:rate={FRAME_RATE}:duration={seconds},{video_filter}",
    ]
    if with_audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    # A keyframe every second keeps seeking tests honest about landing on the right frame.
    args += [
        "-c:v",
        "libx264",
        "-preset",
        "ultrafast",
        "-pix_fmt",
        "yuv420p",
        "-g",
        str(FRAME_RATE),
    ]
    if with_audio:
        args += ["-c:a", "aac", "-ac", "2"]
    args += [str(path)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return path


def make_audio_only(path: Path, seconds: float) -> Path:
    """A mono 16 kHz FLAC tone: stands in for extracted audio."""
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-f", "lavfi"]
    args += [
        "-i",
        f"sine=frequency=300:sample_rate=16000:duration={seconds}",
        "-ac",
        "1",
        str(path),
    ]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    return path


def mean_gray(image: Path, *, crop: tuple[int, int, int, int] | None = None) -> float:
    """Mean gray level (0–255) of an image file, or of `crop` = (width, height, x, y) in it."""
    chain = f"crop={crop[0]}:{crop[1]}:{crop[2]}:{crop[3]}," if crop else ""
    args = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(image)]
    args += ["-vf", f"{chain}format=gray", "-frames:v", "1", "-f", "rawvideo", "pipe:1"]
    pixels = subprocess.run(args, check=True, capture_output=True, timeout=60).stdout
    return sum(pixels) / len(pixels)


def image_size(image: Path) -> tuple[int, int]:
    args = [
        "ffprobe",
        "-v",
        "error",
        "-select_streams",
        "v:0",
        "-show_entries",
        "stream=width,height",
    ]
    args += ["-of", "csv=p=0", str(image)]
    out = subprocess.run(args, check=True, capture_output=True, text=True, timeout=60).stdout
    width, height = out.strip().split(",")
    return int(width), int(height)


def make_speech_video(path: Path, text: str | None, *, silent_seconds: float = 6) -> Path:
    """A small H.264 video whose audio is `text` spoken by espeak-ng in English, ending when the
    speech ends; with `text` None, `silent_seconds` of silence."""
    path.parent.mkdir(parents=True, exist_ok=True)
    args = ["ffmpeg", "-nostdin", "-v", "error", "-y"]
    speech = path.with_name(f"{path.stem}.speech.wav")
    if text is None:
        args += ["-f", "lavfi", "-i", f"anullsrc=r=16000:cl=mono:d={silent_seconds}"]
    else:
        subprocess.run(
            ["espeak-ng", "-v", "en", "-s", "150", "-w", str(speech), text],
            check=True, capture_output=True, timeout=60,
        )
        args += ["-i", str(speech)]
    args += ["-f", "lavfi", "-i", f"color=c=navy:size={WIDTH}x{HEIGHT}:rate={FRAME_RATE}"]
    args += ["-map", "1:v", "-map", "0:a", "-shortest", "-c:v", "libx264", "-preset", "ultrafast"]
    args += ["-pix_fmt", "yuv420p", "-c:a", "aac", str(path)]
    subprocess.run(args, check=True, capture_output=True, timeout=60)
    speech.unlink(missing_ok=True)
    return path
