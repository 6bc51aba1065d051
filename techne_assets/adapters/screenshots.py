"""Real frames for the steps a speaker shows on screen, taken from the video at each step's time."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from techne_assets.adapters.media import grab_frames
from techne_assets.core.document import Document
from techne_assets.core.transcript import format_timestamp


class Screenshots(BaseModel):
    document: Document = Field(description="the document with `screenshot` set on illustrated steps")
    images: dict[str, bytes] = Field(default_factory=dict, description="file name → image bytes")
    dropped_at: list[float] = Field(default_factory=list, description="near-duplicate frames left out")


def screenshots_for_steps(document: Document, media_url: str, work_dir: Path) -> Screenshots:
    """Grabs one frame per timed step; a frame nearly equal to the one before it is left out."""
    doc = document.model_copy(deep=True)
    steps = [step for procedure in doc.procedures for step in procedure.steps if step.at is not None]
    if not steps:
        return Screenshots(document=doc)
    times = sorted({step.at for step in steps})
    grabbed = grab_frames(media_url, times, work_dir)
    kept = {frame.at: frame for frame in grabbed.kept}
    images: dict[str, bytes] = {}
    for step in steps:
        frame = kept.get(step.at)
        if frame is None:
            continue
        name = f"frame-{format_timestamp(step.at).replace(':', '')}{frame.path.suffix}"
        images[name] = frame.path.read_bytes()
        step.screenshot = f"screenshots/{name}"
    return Screenshots(document=doc, images=images, dropped_at=[f.at for f in grabbed.dropped])
