"""Near-duplicate video frames: a difference hash and the mean level of a tiny gray thumbnail."""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

THUMBNAIL_WIDTH = 9
THUMBNAIL_HEIGHT = 8

# A pixel must be this much brighter than its right neighbour to set a bit: flat regions
# (a slide's background) otherwise flip bits on compression noise alone.
DHASH_DEAD_ZONE = 2

DEFAULT_MAX_DISTANCE = 6
DEFAULT_MAX_MEAN_DELTA = 12.0


@dataclass(frozen=True)
class Fingerprint:
    """What two frames are compared by: their dHash bits and their mean gray level (0–255)."""

    dhash: int
    mean_level: float

    @classmethod
    def from_thumbnail(
        cls, gray: bytes, width: int = THUMBNAIL_WIDTH, height: int = THUMBNAIL_HEIGHT
    ) -> Fingerprint:
        """`gray`: one byte per pixel, row by row (ffmpeg's `format=gray -f rawvideo`)."""
        if len(gray) != width * height:
            raise ValueError(f"expected {width * height} gray bytes, got {len(gray)}")
        bits = 0
        for row in range(height):
            line = gray[row * width : (row + 1) * width]
            for left, right in pairwise(line):
                bits = (bits << 1) | (left - right > DHASH_DEAD_ZONE)
        return cls(dhash=bits, mean_level=sum(gray) / len(gray))

    @property
    def hex(self) -> str:
        bit_count = (THUMBNAIL_WIDTH - 1) * THUMBNAIL_HEIGHT
        return f"{self.dhash:0{bit_count // 4}x}"

    def distance(self, other: Fingerprint) -> int:
        """Hamming distance between the two hashes."""
        return (self.dhash ^ other.dhash).bit_count()

    def is_near_duplicate_of(
        self,
        other: Fingerprint,
        *,
        max_distance: int = DEFAULT_MAX_DISTANCE,
        max_mean_delta: float = DEFAULT_MAX_MEAN_DELTA,
    ) -> bool:
        # dHash ignores overall brightness (a black and a white screen hash alike), so the
        # mean level has to agree too.
        return (
            self.distance(other) <= max_distance
            and abs(self.mean_level - other.mean_level) <= max_mean_delta
        )
