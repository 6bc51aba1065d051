"""Real frames for the document: one per timed step, and one key frame per topic.

A step's frame is taken at the step's time; a topic's key frame is its most distinct screen by
ffmpeg's scene detection, skipped when the screen stayed static or is black. A frame that
cannot be read (past the end, a broken tail) leaves its step or topic without an image and
adds a warning; it never fails the document. A recording without a video stream gets no frame
grabs at all and a document that says so (`DocumentHeader.audio_only`).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from techne_assets.adapters.media import grab_fingerprinted_frame, grab_frames, scene_changes
from techne_assets.core.document import Document, Topic
from techne_assets.core.errors import InputError
from techne_assets.core.frames import DEFAULT_SCENE_THRESHOLD, Fingerprint, key_frame_times
from techne_assets.core.transcript import format_timestamp


class Screenshots(BaseModel):
    document: Document = Field(
        description="the document with `screenshot` set on illustrated steps and `key_frame` on topics"
    )
    images: dict[str, bytes] = Field(default_factory=dict, description="file name → image bytes")
    dropped_at: list[float] = Field(
        default_factory=list, description="near-duplicate frames left out"
    )
    warnings: list[str] = Field(
        default_factory=list, description="frames that could not be read, one line each"
    )


def _name(prefix: str, at: float, suffix: str) -> str:
    return f"{prefix}-{format_timestamp(at).replace(':', '')}{suffix}"


def _step_frames(doc: Document, media_url: str, work_dir: Path, result: Screenshots) -> None:
    steps = [
        (f"step {index} of '{procedure.title}'", step)
        for procedure in doc.procedures
        for index, step in enumerate(procedure.steps, 1)
        if step.at is not None
    ]
    if not steps:
        return
    grabbed = grab_frames(media_url, sorted({step.at for _, step in steps}), work_dir / "steps")
    kept = {frame.at: frame for frame in grabbed.kept}
    failed = {frame.at: frame.reason for frame in grabbed.failed}
    for label, step in steps:
        frame = kept.get(step.at)
        if frame is not None:
            name = _name("frame", step.at, frame.path.suffix)
            result.images[name] = frame.path.read_bytes()
            step.screenshot = f"screenshots/{name}"
        elif step.at in failed:
            result.warnings.append(
                f"{label} at {format_timestamp(step.at)}: no screenshot ({failed[step.at]})"
            )
    result.dropped_at = [frame.at for frame in grabbed.dropped]


def _key_frame(
    topic: Topic,
    media_url: str,
    work_dir: Path,
    result: Screenshots,
    previous: Fingerprint | None,
    scene_threshold: float,
) -> Fingerprint | None:
    label = f"topic '{topic.title}'"
    start, end = topic.time_range.start, topic.time_range.end
    try:
        changes = scene_changes(media_url, start, end, scene_threshold)
    except InputError as error:
        result.warnings.append(f"{label}: no key frame ({error.reason})")
        return previous
    for at in key_frame_times([(c.at, c.score) for c in changes], start, end):
        dest = work_dir / "topics" / _name("topic", at, ".jpg")
        try:
            fingerprint = grab_fingerprinted_frame(media_url, at, dest)
        except InputError as error:
            result.warnings.append(
                f"{label} at {format_timestamp(at)}: no key frame ({error.reason})"
            )
            continue
        if fingerprint.is_dark or (
            previous is not None and fingerprint.is_near_duplicate_of(previous)
        ):
            continue
        result.images[dest.name] = dest.read_bytes()
        topic.key_frame, topic.key_frame_at = f"screenshots/{dest.name}", at
        return fingerprint
    return previous


def screenshots_for_steps(
    document: Document,
    media_url: str,
    work_dir: Path,
    *,
    has_video: bool = True,
    scene_threshold: float = DEFAULT_SCENE_THRESHOLD,
) -> Screenshots:
    """The document's real frames: a screenshot per timed step (a frame nearly equal to the one
    before it is left out) and a key frame per topic (the same screen as the previous topic's
    key frame is not repeated). `has_video` false: no frames, and the header says so."""
    doc = document.model_copy(deep=True)
    result = Screenshots(document=doc)
    if not has_video:
        doc.header.audio_only = True
        for procedure in doc.procedures:
            for step in procedure.steps:
                step.screenshot = None
        for topic in doc.topics:
            topic.key_frame = topic.key_frame_at = None
        return result
    _step_frames(doc, media_url, work_dir, result)
    previous: Fingerprint | None = None
    for topic in doc.topics:
        previous = _key_frame(topic, media_url, work_dir, result, previous, scene_threshold)
    return result
