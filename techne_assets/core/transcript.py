"""Transcript model (segments with times and speakers); the parsers live in core/captions.py."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field, field_validator


def segment_id(index: int) -> str:
    """The short, stable id of the segment at `index` ("s0412"): evidence names segments by it."""
    return f"s{index:04d}"


def format_timestamp(seconds: float) -> str:
    """`HH:MM:SS` (whole seconds, rounded down); hours grow past 99 rather than wrap."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(
            f"a timestamp needs a finite, non-negative number of seconds, got {seconds!r}"
        )
    whole = int(seconds)
    return f"{whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def format_segment_line(segment: Segment) -> str:
    """One transcript line, `[00:12:03] Ana: texto`, as chunks and the appendix show it."""
    text = " ".join(segment.text.split())
    label = f"{segment.speaker}: " if segment.speaker else ""
    return f"[{format_timestamp(segment.start)}] {label}{text}"


class Segment(BaseModel):
    """One stretch of speech by one speaker (or an unknown one)."""

    start: float = Field(ge=0, description="seconds from the start of the media")
    end: float = Field(ge=0, description="seconds from the start of the media")
    speaker: str | None = None
    text: str

    @field_validator("end")
    @classmethod
    def _end_not_before_start(cls, end: float, info) -> float:
        # Parsers report a source's inverted timing (Transcript.timing_errors); none passes here.
        start = info.data.get("start", 0.0)
        if end < start:
            raise ValueError(f"a segment cannot end ({end}) before it starts ({start})")
        return end

    @property
    def words(self) -> list[str]:
        return self.text.split()


class Transcript(BaseModel):
    """The normalized transcript every later stage reads."""

    language: str | None = None
    duration: float | None = Field(
        default=None, description="media duration in seconds, when known"
    )
    segments: list[Segment] = Field(default_factory=list)
    timing_errors: list[str] = Field(
        default_factory=list,
        description="timings the source got wrong (a cue ending before it starts), with their line",
    )
    metadata: dict[str, Any] = Field(
        default_factory=dict,
        description="what the source says about itself, e.g. the speech model and its language probability",
    )

    def segment_ids(self) -> list[str]:
        return [segment_id(index) for index in range(len(self.segments))]

    def segment_by_id(self, sid: str) -> Segment | None:
        """The segment an evidence id names, or None when the id is not one of this transcript's."""
        if len(sid) < 2 or sid[0] != "s" or not sid[1:].isdigit():
            return None
        index = int(sid[1:])
        return self.segments[index] if index < len(self.segments) and segment_id(index) == sid else None

    @property
    def word_count(self) -> int:
        return sum(len(s.words) for s in self.segments)

    @property
    def speakers(self) -> list[str]:
        seen: dict[str, None] = {}
        for s in self.segments:
            if s.speaker:
                seen.setdefault(s.speaker, None)
        return list(seen)

    @property
    def spoken_end(self) -> float:
        return max((s.end for s in self.segments), default=0.0)

    @property
    def text(self) -> str:
        return "\n".join(s.text for s in self.segments)

    def to_public_json(self) -> dict:
        """The shape `techne transcript` prints and the `transcript` asset stores."""
        return {
            "language": self.language,
            "duration": self.duration,
            "segments": [
                {"start": s.start, "end": s.end, "speaker": s.speaker, "text": s.text}
                for s in self.segments
            ],
            **({"timing_errors": self.timing_errors} if self.timing_errors else {}),
        }
