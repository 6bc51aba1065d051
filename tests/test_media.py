"""ffprobe/ffmpeg adapter on small generated videos, bad inputs, and a presigned S3 URL on moto."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import boto3
import pytest
from media_support import gray_for_second, image_size, make_audio_only, make_test_video, mean_gray

from techne_assets.adapters import media
from techne_assets.core.errors import InputError
from techne_assets.core.frames import THUMBNAIL_HEIGHT, THUMBNAIL_WIDTH, Fingerprint

# The left quarter of a generated frame is flat background: no digit is drawn there.
BACKGROUND = (40, 40, 0, 0)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return make_test_video(tmp_path_factory.mktemp("media") / "call.mp4", 5)


@pytest.fixture(scope="module")
def silent_video(tmp_path_factory) -> Path:
    return make_test_video(tmp_path_factory.mktemp("media") / "silent.mp4", 2, with_audio=False)


def test_probe_reports_duration_codecs_size_and_audio(video):
    info = media.probe(str(video))
    assert info.duration_seconds == pytest.approx(5.0, abs=0.1)
    assert info.video_codec == "h264"
    assert (info.width, info.height) == (160, 120)
    assert "mp4" in info.format_name
    assert [(s.codec, s.channels, s.sample_rate) for s in info.audio_streams] == [("aac", 2, 44100)]


def test_probe_accepts_a_video_without_audio_and_shows_no_audio_streams(silent_video):
    info = media.probe(str(silent_video))
    assert info.video_codec == "h264"
    assert info.audio_streams == []


def test_extract_audio_writes_mono_16khz_flac(video, tmp_path):
    audio = media.extract_audio(str(video), tmp_path / "out" / "audio.flac")
    info = media.probe(str(audio))
    assert info.format_name == "flac"
    assert info.video_codec is None
    assert [(s.codec, s.channels, s.sample_rate) for s in info.audio_streams] == [
        ("flac", 1, 16000)
    ]
    assert info.duration_seconds == pytest.approx(5.0, abs=0.1)
    assert not list(audio.parent.glob("*.partial"))


def test_extract_audio_from_a_video_without_audio_says_so(silent_video, tmp_path):
    with pytest.raises(InputError) as caught:
        media.extract_audio(str(silent_video), tmp_path / "audio.flac", name="inbox/silent.mp4")
    assert caught.value.reason == "no audio track"
    assert caught.value.source == "inbox/silent.mp4"
    assert not (tmp_path / "audio.flac").exists()


def test_split_audio_makes_equal_consecutive_parts_with_offsets(tmp_path):
    audio = make_audio_only(tmp_path / "audio.flac", 5)
    parts = media.split_audio(audio, 2, tmp_path / "parts")
    assert len(parts) == 3
    assert [p.offset_seconds for p in parts] == pytest.approx([0, 5 / 3, 10 / 3], abs=0.01)
    assert all(p.duration_seconds <= 2 for p in parts)
    assert sum(p.duration_seconds for p in parts) == pytest.approx(5.0, abs=0.05)
    for part in parts:
        assert media.probe(str(part.path)).audio_streams[0].sample_rate == 16000


def test_split_audio_leaves_short_audio_whole(tmp_path):
    audio = make_audio_only(tmp_path / "audio.flac", 3)
    (part,) = media.split_audio(audio, 10, tmp_path / "parts")
    assert (part.path, part.offset_seconds) == (audio, 0.0)
    assert not (tmp_path / "parts").exists()


@pytest.mark.parametrize("at_seconds, second", [(3.0, 3), (3.5, 3), (1.2, 1), (0.0, 0)])
def test_grab_frame_returns_the_frame_at_that_time(video, tmp_path, at_seconds, second):
    frame = media.grab_frame(str(video), at_seconds, tmp_path / "frame.png")
    assert mean_gray(frame, crop=BACKGROUND) == pytest.approx(gray_for_second(second), abs=5)


def test_grab_frame_keeps_small_videos_small_and_scales_big_ones_down(video, tmp_path):
    assert image_size(media.grab_frame(str(video), 1, tmp_path / "full.jpg")) == (160, 120)
    assert image_size(media.grab_frame(str(video), 1, tmp_path / "small.jpg", width=80)) == (80, 60)


def test_grab_frame_past_the_end_is_an_input_error(video, tmp_path):
    with pytest.raises(InputError, match=r"no frame at 30\.000s"):
        media.grab_frame(str(video), 30, tmp_path / "late.jpg")
    assert not (tmp_path / "late.jpg").exists()


def test_grab_frames_drops_frames_that_repeat_a_still_screen(tmp_path):
    video = make_test_video(tmp_path / "still.mp4", 6, still_between=(2, 5))
    selection = media.grab_frames(str(video), [5.5, 0.5, 1.5, 2.5, 3.5, 4.5], tmp_path / "frames")
    assert [f.at for f in selection.kept] == [0.5, 1.5, 2.5, 5.5]
    assert [(d.at, d.duplicate_of) for d in selection.dropped] == [(3.5, 2.5), (4.5, 2.5)]
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == sorted(
        f.path.name for f in selection.kept
    )
    for frame, second in zip(selection.kept, [0, 1, 2, 5]):
        assert mean_gray(frame.path, crop=BACKGROUND) == pytest.approx(
            gray_for_second(second), abs=5
        )
    assert len({f.hash for f in selection.kept}) == 4


def test_grab_frames_keeps_every_frame_of_a_changing_video(video, tmp_path):
    selection = media.grab_frames(str(video), [0.5, 1.5, 2.5, 3.5, 4.5], tmp_path / "frames")
    assert [f.at for f in selection.kept] == [0.5, 1.5, 2.5, 3.5, 4.5]
    assert selection.dropped == []


PIXELS = THUMBNAIL_WIDTH * THUMBNAIL_HEIGHT


def test_fingerprints_tell_flat_frames_of_different_brightness_apart():
    dark, light = Fingerprint.from_thumbnail(bytes([10] * PIXELS)), Fingerprint.from_thumbnail(bytes([200] * PIXELS))
    assert not light.is_near_duplicate_of(dark)
    assert Fingerprint.from_thumbnail(bytes([13] * PIXELS)).is_near_duplicate_of(dark)


def test_fingerprint_ignores_compression_noise_but_sees_a_changed_line_of_text():
    flat = bytes([20] * PIXELS)
    noisy = bytes(20 + (i % 5) - 2 for i in range(PIXELS))
    assert Fingerprint.from_thumbnail(noisy).distance(Fingerprint.from_thumbnail(flat)) == 0
    # A new line of text on a terminal: one thumbnail row, a third of its width, a little lighter.
    text = bytearray(flat)
    row = 12 * THUMBNAIL_WIDTH
    text[row + 3 : row + 3 + THUMBNAIL_WIDTH // 3] = bytes([40] * (THUMBNAIL_WIDTH // 3))
    assert not Fingerprint.from_thumbnail(bytes(text)).is_near_duplicate_of(Fingerprint.from_thumbnail(flat))


def test_grab_frames_keeps_text_screens_that_differ_by_a_command(tmp_path):
    """Two terminal screens of the demo call differ by their command only: both are kept."""
    from techne_assets.adapters.demo import record_demo

    video, _ = record_demo(tmp_path / "demo")
    selection = media.grab_frames(str(video), [23.0, 24.0, 42.0], tmp_path / "frames")
    assert [f.at for f in selection.kept] == [23.0, 42.0]
    assert [d.at for d in selection.dropped] == [24.0]


@pytest.fixture
def bad_inputs(tmp_path, video) -> dict[str, Path]:
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text(
        "Reunião de suporte: anotações, não é um vídeo.\n", encoding="utf-8"
    )
    (tmp_path / "truncated.mp4").write_bytes(video.read_bytes()[:3000])
    (tmp_path / "noise.mp4").write_bytes(os.urandom(20_000))
    return {
        name: tmp_path / name
        for name in ["empty.mp4", "notes.mp4", "truncated.mp4", "noise.mp4", "missing.mp4"]
    }


@pytest.mark.parametrize(
    "name, reason",
    [
        ("missing.mp4", "file not found"),
        ("empty.mp4", "empty file"),
        ("notes.mp4", "not a video: the file is text"),
        ("truncated.mp4", "corrupt or unreadable video: moov atom not found"),
        ("noise.mp4", "corrupt or unreadable video: "),
    ],
)
def test_bad_input_gives_a_one_line_input_error_naming_the_file(bad_inputs, name, reason):
    path = bad_inputs[name]
    with pytest.raises(InputError) as caught:
        media.probe(str(path))
    message = caught.value.one_line()
    assert message == str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: {reason}")


def test_a_file_with_only_subtitles_is_not_a_video(tmp_path):
    srt = tmp_path / "captions.srt"
    srt.write_text("1\n00:00:01,000 --> 00:00:02,000\nOlá\n", encoding="utf-8")
    mkv = tmp_path / "captions.mkv"
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(srt), str(mkv)], check=True, timeout=60)
    with pytest.raises(InputError, match="not a video: no video or audio stream .found subtitle."):
        media.probe(str(mkv))


def test_a_still_image_is_not_a_video(video, tmp_path):
    image = media.grab_frame(str(video), 1, tmp_path / "frame.png")
    disguised = tmp_path / "frame.mp4"
    disguised.write_bytes(image.read_bytes())
    with pytest.raises(InputError, match="not a video: a still image"):
        media.probe(str(disguised))


def test_frames_and_probe_read_a_presigned_s3_url(aws_env, video, tmp_path):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="videos")
    s3.upload_file(str(video), "videos", "inbox/call.mp4")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "videos", "Key": "inbox/call.mp4"}
    )
    assert url.startswith("http://") and "Signature" in url

    assert media.probe(url).duration_seconds == pytest.approx(5.0, abs=0.1)
    frame = media.grab_frame(url, 3.5, tmp_path / "frame.jpg")
    assert mean_gray(frame, crop=BACKGROUND) == pytest.approx(gray_for_second(3), abs=5)


def test_an_unreadable_url_names_it_without_its_signature(aws_env):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="videos")
    url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": "videos", "Key": "inbox/nothing.mp4"}
    )
    with pytest.raises(InputError) as caught:
        media.probe(url)
    assert caught.value.source == url.split("?")[0]
    assert "Signature" not in str(caught.value)
    assert caught.value.reason == "file not found (HTTP 404)"
