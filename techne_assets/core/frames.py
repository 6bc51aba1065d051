"""Near-duplicate video frames, compared on a small gray thumbnail pixel by pixel.

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
