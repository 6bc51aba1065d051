"""Real frames for the document: step screenshots, a key frame per topic, fault tolerance."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from media_support import make_audio_only, make_test_video

from techne_assets.adapters import media
from techne_assets.adapters.screenshots import screenshots_for_steps
from techne_assets.core.document import (
    AUDIO_ONLY_NOTICE,
    Document,
    DocumentHeader,
    Procedure,
    Step,
    TimeRange,
    Topic,
    render_markdown,
)
from techne_assets.core.frames import Fingerprint, key_frame_times
from techne_assets.core.transcript import Transcript


@pytest.fixture(scope="module")
def changing(tmp_path_factory) -> Path:
    """8 s, a new screen every second."""
    return make_test_video(tmp_path_factory.mktemp("media") / "changing.mp4", 8, with_audio=False)


@pytest.fixture(scope="module")
def still(tmp_path_factory) -> Path:
    """8 s, the screen stays as it was at second 2 from 2 s to 7 s."""
    path = tmp_path_factory.mktemp("media") / "still.mp4"
    return make_test_video(path, 8, with_audio=False, still_between=(2, 7))


@pytest.fixture(scope="module")
def fade_to_black(tmp_path_factory) -> Path:
    """2 s of a gray screen, then 3 s of black."""
    path = tmp_path_factory.mktemp("media") / "black.mp4"
    graph = "color=c=gray:size=160x120:rate=10:d=2[a];color=c=black:size=160x120:rate=10:d=3[b];[a][b]concat=n=2:v=1"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-filter_complex",
            graph,
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "10",
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return path


def _lecture(*ranges: tuple[float, float], steps: list[Step] | None = None) -> Document:
    topics = [
        Topic(title=f"Tópico {n}", time_range=TimeRange(start=a, end=b), description="d")
        for n, (a, b) in enumerate(ranges, 1)
    ]
    procedures = (
        [Procedure(title="Proc", time_range=TimeRange(start=0, end=8), objective="o", steps=steps)]
        if steps
        else []
    )
    return Document(
        header=DocumentHeader(source_name="aula.mp4", writer="offline"),
        topics=topics,
        procedures=procedures,
    )


def test_every_topic_of_a_lecture_without_procedures_gets_its_most_distinct_screen(
    changing, tmp_path
):
    shots = screenshots_for_steps(_lecture((0, 4), (4, 8)), str(changing), tmp_path)
    first, second = shots.document.topics
    assert first.key_frame and second.key_frame
    assert 0 < first.key_frame_at < 4 and 4 <= second.key_frame_at < 8
    assert first.key_frame != second.key_frame
    for topic in (first, second):
        assert shots.images[topic.key_frame.removeprefix("screenshots/")].startswith(b"\xff\xd8")
    assert shots.warnings == []
    markdown = render_markdown(shots.document, Transcript())
    assert f"]({first.key_frame})" in markdown and f"]({second.key_frame})" in markdown


def test_a_static_screen_gets_no_key_frame(still, tmp_path):
    shots = screenshots_for_steps(_lecture((2.5, 6.5)), str(still), tmp_path)
    assert shots.document.topics[0].key_frame is None
    assert shots.images == {} and shots.warnings == []


def test_a_black_screen_is_not_a_key_frame(fade_to_black, tmp_path):
    changes = media.scene_changes(str(fade_to_black), 1.0, 5.0, 0.1)
    assert changes and 1.5 <= changes[0].at <= 2.5  # the cut to black is a scene change
    shots = screenshots_for_steps(_lecture((1.0, 5.0)), str(fade_to_black), tmp_path)
    assert shots.document.topics[0].key_frame is None


def test_an_unreadable_frame_leaves_its_step_without_an_image_and_warns(changing, tmp_path):
    steps = [Step(text="Abre o painel.", at=1.5), Step(text="Confere o fim.", at=30.0)]
    document = _lecture(steps=steps)
    shots = screenshots_for_steps(document, str(changing), tmp_path)
    first, late = shots.document.procedures[0].steps
    assert first.screenshot and first.screenshot.removeprefix("screenshots/") in shots.images
    assert late.screenshot is None and late.text == "Confere o fim."
    assert len(shots.warnings) == 1
    assert shots.warnings[0].startswith(
        "step 2 of 'Proc' at 00:00:30: no screenshot (no frame at 30.000s"
    )
    assert document.procedures[0].steps[0].screenshot is None  # the input is not changed


def test_a_topic_past_the_end_of_the_video_warns_instead_of_failing(changing, tmp_path):
    shots = screenshots_for_steps(_lecture((0, 4), (20, 30)), str(changing), tmp_path)
    assert shots.document.topics[0].key_frame is not None
    assert shots.document.topics[1].key_frame is None


def test_audio_only_media_gets_no_frame_grabs_and_says_so(tmp_path):
    audio = make_audio_only(tmp_path / "call.flac", 3)
    assert media.probe(str(audio)).video_codec is None
    steps = [Step(text="Abre o painel.", at=1.0, screenshot="screenshots/velho.jpg")]
    # A source that does not exist proves no frame is grabbed.
    shots = screenshots_for_steps(
        _lecture((0, 3), steps=steps), str(tmp_path / "missing.mp4"), tmp_path, has_video=False
    )
    assert shots.images == {} and shots.warnings == []
    assert shots.document.header.audio_only
    assert shots.document.procedures[0].steps[0].screenshot is None
    assert AUDIO_ONLY_NOTICE in render_markdown(shots.document, Transcript())


def test_key_frame_times_rank_changes_inside_the_range_and_let_them_settle():
    changes = [(0.5, 0.9), (2.0, 0.3), (3.0, 0.6), (9.0, 1.0)]
    assert key_frame_times(changes, 1.0, 5.0) == [3.5, 2.5]
    assert key_frame_times(changes, 1.0, 3.2) == [2.7, 2.5]
    assert key_frame_times([], 0.0, 5.0) == []


def test_dark_thumbnails_are_black_screens():
    assert Fingerprint(gray=bytes([5]) * 16).is_dark
    assert not Fingerprint(gray=bytes([120]) * 16).is_dark
