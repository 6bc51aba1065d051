"""Near-duplicate and black video frames, judged on a small gray thumbnail; key frame choice.

Shared screens are mostly text on a flat background: a 9×8 perceptual hash sees two terminal
screens with different commands as the same picture. At 64×36 a changed line of text moves
dozens of thumbnail pixels by many gray levels, while compression noise on a static screen moves
none of them past a few levels.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

THUMBNAIL_WIDTH = 64
THUMBNAIL_HEIGHT = 36

# A pixel counts as changed when its gray level moves more than this (of 255).
PIXEL_DELTA = 10
# Frames with at most this many changed pixels show the same thing.
DEFAULT_MAX_CHANGED_PIXELS = 2
# A thumbnail this dark on average (of 255) is a black screen: nothing to show.
DARK_MEAN_GRAY = 20
# ffmpeg scene score above which a keyframe shows a new screen (0 same picture – 1 all new).
# Shared screens change little between slides (text on the same background scores 0.002-0.02
# at 160 px), so the threshold only separates a changed screen from an identical one; the
# thumbnail comparison then keeps a topic's key frame from repeating the previous one.
DEFAULT_SCENE_THRESHOLD = 0.001
# A scene change is grabbed this much later, once a transition has settled.
SETTLE_SECONDS = 0.5
# Candidates tried per topic before giving up (the next most distinct after a black one).
MAX_KEY_FRAME_TRIES = 3


@dataclass(frozen=True)
class Fingerprint:
    """A frame's gray thumbnail, one byte per pixel, row by row."""

    gray: bytes

    @classmethod
    def from_thumbnail(
        cls, gray: bytes, width: int = THUMBNAIL_WIDTH, height: int = THUMBNAIL_HEIGHT
    ) -> Fingerprint:
        """`gray`: ffmpeg's `format=gray -f rawvideo` output for a `width`×`height` frame."""
        if len(gray) != width * height:
            raise ValueError(f"expected {width * height} gray bytes, got {len(gray)}")
        return cls(gray=bytes(gray))

    @property
    def hex(self) -> str:
        """A short identity of the thumbnail, for logs and metadata."""
        return hashlib.sha256(self.gray).hexdigest()[:16]

    def distance(self, other: Fingerprint) -> int:
        """How many thumbnail pixels changed by more than PIXEL_DELTA."""
        return sum(abs(a - b) > PIXEL_DELTA for a, b in zip(self.gray, other.gray, strict=True))

    def is_near_duplicate_of(
        self, other: Fingerprint, *, max_changed_pixels: int = DEFAULT_MAX_CHANGED_PIXELS
    ) -> bool:
        return self.distance(other) <= max_changed_pixels

    @property
    def mean_gray(self) -> float:
        return sum(self.gray) / len(self.gray) if self.gray else 0.0

    @property
    def is_dark(self) -> bool:
        """A black (or nearly black) screen: a pause, a cut, a camera off."""
        return self.mean_gray < DARK_MEAN_GRAY


def key_frame_times(changes: list[tuple[float, float]], start: float, end: float) -> list[float]:
    """Times to try as a topic's key frame, most distinct screen first.

    `changes`: (time, scene score) of the scene changes found in the topic's range. Each time
    is moved `SETTLE_SECONDS` later, within the range; none when the screen never changed.
    """
    inside = [(at, score) for at, score in changes if start <= at < end]
    ranked = sorted(inside, key=lambda change: (-change[1], change[0]))
    times: list[float] = []
    for at, _ in ranked[:MAX_KEY_FRAME_TRIES]:
        settled = min(at + SETTLE_SECONDS, max(start, end - SETTLE_SECONDS))
        if settled not in times:
            times.append(settled)
    return times
