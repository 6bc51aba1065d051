"""Text core and key frames on a 3-hour call: spoken-form normalization, the grounding index,
rendering (Markdown and HTML with evidence), and ffmpeg scene detection per hour of video.

Targets: normalization plus the grounding index of a 3-hour call in < 5 s; scene detection of
one hour of 720p video in < 60 s. Prints the figures and records them in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from results import record_section  # noqa: E402
from synthetic_call import synthetic_call_vtt  # noqa: E402

from techne_assets.adapters import media  # noqa: E402
from techne_assets.adapters.export import document_to_html  # noqa: E402
from techne_assets.core.captions import parse_transcript  # noqa: E402
from techne_assets.core.document import TITLE, render_markdown  # noqa: E402
from techne_assets.core.frames import DEFAULT_SCENE_THRESHOLD  # noqa: E402
from techne_assets.core.grounding import check_grounding  # noqa: E402
from techne_assets.core.spoken_forms import normalize_spoken  # noqa: E402
from techne_assets.core.writing.base import WritingContext  # noqa: E402
from techne_assets.core.writing.offline import OfflineWriter  # noqa: E402

# Spoken commands mixed into the synthetic call, as speakers say them.
SPOKEN = [
    "aí você roda ls traço la barra etc barra nginx",
    "acessa h t t p s dois pontos barra barra wiki ponto techne ponto com ponto br barra runbooks",
    "coloca max underline connections igual duzentos no arquivo",
    "kubectl traço n pagamentos get pods traço o wide",
]
VIDEO_SECONDS = 600


def timed(action) -> tuple[float, object]:
    started = time.perf_counter()
    value = action()
    return time.perf_counter() - started, value


def scene_seconds_per_hour(folder: Path) -> tuple[float, int]:
    video = folder / "screens.mp4"
    # A slide every 20 s over a moving test pattern, 1280x720 at 30 fps, a keyframe every 10 s.
    source = f"testsrc2=size=1280x720:rate=30:duration={VIDEO_SECONDS}"
    slides = "drawbox=c=white@1:t=fill:enable='lt(mod(t,40),20)'"
    subprocess.run(
        [
            "ffmpeg",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
            source,
            "-vf",
            slides,
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "300",
            "-pix_fmt",
            "yuv420p",
            str(video),
        ],
        check=True,
        timeout=600,
    )
    seconds, changes = timed(lambda: media.scene_changes(str(video), 0, VIDEO_SECONDS, DEFAULT_SCENE_THRESHOLD))
    return seconds * 3600 / VIDEO_SECONDS, len(changes)


def main() -> None:
    transcript = parse_transcript(synthetic_call_vtt().encode("utf-8"), "synthetic-3h.vtt")
    for index in range(0, len(transcript.segments), 10):
        segment = transcript.segments[index]
        segment.text = f"{segment.text} {SPOKEN[index // 10 % len(SPOKEN)]}"
    normalize_s, _ = timed(lambda: [normalize_spoken(s.text) for s in transcript.segments])
    draft = OfflineWriter().write(transcript, WritingContext(source_name="synthetic-3h.mp4"))
    markdown_s, markdown = timed(lambda: render_markdown(draft.document, transcript))
    grounding_s, report = timed(lambda: check_grounding(markdown, transcript))
    html_s, page = timed(lambda: document_to_html(draft.document, transcript, {}, TITLE))
    normalized = sum(1 for span in report.supported if span.matched == "normalized")
    with tempfile.TemporaryDirectory() as folder:
        scene_s, changes = scene_seconds_per_hour(Path(folder))
    lines = [
        f"- call: {transcript.word_count:,} words, {len(transcript.segments):,} segments",
        f"- spoken-form normalization of every segment: {normalize_s:.2f} s",
        f"- grounding (index + check of the offline document): {grounding_s:.2f} s; "
        f"{len(report.supported)} spans supported, {normalized} of them only in spoken form",
        f"- render Markdown: {markdown_s:.2f} s; HTML with evidence blocks: {html_s:.2f} s "
        f"({page.count('<details')} evidence blocks)",
        f"- scene detection, 720p30 screens: {scene_s:.1f} s per hour of video "
        f"({changes} changes in {VIDEO_SECONDS // 60} min)",
        f"- targets: normalization + grounding < 5 s: {'met' if normalize_s + grounding_s < 5 else 'NOT met'}; "
        f"scene detection < 60 s/h: {'met' if scene_s < 60 else 'NOT met'}",
    ]
    body = "\n".join(lines)
    print(body)
    record_section("text_core", "Text core and key frames on a 3-hour call", body)


if __name__ == "__main__":
    main()
