"""Quality rules the asset checks apply; pure so they are tested without Dagster."""

from __future__ import annotations

import re

from pydantic import BaseModel, Field

from techne_assets.core.document import SECTION_HEADINGS
from techne_assets.core.grounding import check_grounding
from techne_assets.core.transcript import Transcript, format_timestamp

# Hours grow past 99 (format_timestamp never wraps), so any number of hour digits is read.
_TIMESTAMP = re.compile(r"\[(\d{2,}):([0-5]\d):([0-5]\d)\]")
APPENDIX_HEADING = SECTION_HEADINGS[-1]


class Verdict(BaseModel):
    passed: bool
    description: str
    metadata: dict[str, float | int | str | list[str]] = Field(default_factory=dict)


def transcript_has_speech(transcript: Transcript) -> Verdict:
    words = transcript.word_count
    return Verdict(
        passed=words > 0,
        description=f"{words} words in {len(transcript.segments)} segments"
        if words
        else "the transcript is empty: no speech was found, so no document can be written",
        metadata={"words": words, "segments": len(transcript.segments)},
    )


def transcript_coverage(transcript: Transcript, media_duration: float, minimum: float) -> Verdict:
    if media_duration <= 0:
        return Verdict(passed=False, description="the media has no duration", metadata={})
    coverage = min(transcript.spoken_end / media_duration, 1.0)
    return Verdict(
        passed=coverage >= minimum,
        description=f"speech reaches {coverage:.0%} of the media duration (minimum {minimum:.0%})",
        metadata={"coverage": round(coverage, 4), "spoken_until_seconds": round(transcript.spoken_end, 3)},
    )


def transcript_within_media(transcript: Transcript, media_duration: float, tolerance: float) -> Verdict:
    """Captions for another (longer) recording, or a runaway timestamp, end past the media."""
    if media_duration <= 0:
        return Verdict(passed=False, description="the media has no duration", metadata={})
    late = [s for s in transcript.segments if s.end > media_duration + tolerance]
    first = late[0] if late else None
    return Verdict(
        passed=not late,
        description=f"speech ends within the {media_duration:.0f} s of media"
        if first is None
        else f"{len(late)} segments end after the media ({media_duration:.0f} s, tolerance "
        f"{tolerance:.0f} s), the first at [{format_timestamp(first.end)}]: "
        "are these the captions of this video?",
        metadata={"after_end": len(late), "spoken_until_seconds": round(transcript.spoken_end, 3)},
    )


def transcript_timings_ordered(transcript: Transcript) -> Verdict:
    """Cues the source times backwards (end before start), named by their line."""
    errors = transcript.timing_errors
    return Verdict(
        passed=not errors,
        description="every cue ends after it starts"
        if not errors
        else f"{len(errors)} cues end before they start: " + "; ".join(errors[:3]),
        metadata={"timing_errors": errors[:20]},
    )


def transcript_speech_rate(transcript: Transcript, low: float, high: float) -> Verdict:
    spoken = sum(s.end - s.start for s in transcript.segments)
    if spoken <= 0:
        return Verdict(passed=False, description="no timed speech to measure", metadata={})
    rate = transcript.word_count / (spoken / 60)
    return Verdict(
        passed=low <= rate <= high,
        description=f"{rate:.0f} words per spoken minute (plausible: {low:.0f}–{high:.0f})",
        metadata={"words_per_minute": round(rate, 1)},
    )


def document_sections(markdown: str) -> Verdict:
    lines = {line.strip() for line in markdown.splitlines()}
    missing = [h for h in SECTION_HEADINGS if h not in lines]
    positions = [markdown.find(h) for h in SECTION_HEADINGS if h in lines]
    in_order = positions == sorted(positions)
    return Verdict(
        passed=not missing and in_order,
        description="every section present, in order"
        if not missing and in_order
        else (f"missing sections: {', '.join(missing)}" if missing else "sections out of order"),
        metadata={"missing": missing},
    )


def document_not_truncated(truncated_stages: list[str]) -> Verdict:
    return Verdict(
        passed=not truncated_stages,
        description="no writer output was cut at its token limit"
        if not truncated_stages
        else f"writer output cut at the token limit in: {', '.join(truncated_stages)}",
        metadata={"truncated_stages": truncated_stages},
    )


def _body(markdown: str) -> str:
    """The document without its transcript appendix, which trivially 'grounds' everything."""
    return markdown.split(APPENDIX_HEADING, 1)[0]


def document_grounded(markdown: str, transcript: Transcript) -> Verdict:
    report = check_grounding(_body(markdown), transcript)
    unsupported = [span.text for span in report.unsupported]
    return Verdict(
        passed=not unsupported,
        description="every command, path and URL occurs in the transcript"
        if not unsupported
        else f"{len(unsupported)} technical spans not found in the transcript: "
        + ", ".join(unsupported[:5]),
        metadata={
            "supported": len(report.supported),
            "unsupported": unsupported,
        },
    )


def document_timestamps_valid(markdown: str, media_duration: float) -> Verdict:
    seconds = [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in _TIMESTAMP.findall(_body(markdown))]
    late = [t for t in seconds if t > media_duration + 1]
    return Verdict(
        passed=not late,
        description=f"{len(seconds)} timestamps, all within the {media_duration:.0f} s of media"
        if not late
        else f"{len(late)} timestamps after the end of the media ({media_duration:.0f} s)",
        metadata={"timestamps": len(seconds), "after_end": len(late)},
    )


def document_within_budget(cost_usd: float, budget_usd: float) -> Verdict:
    return Verdict(
        passed=cost_usd <= budget_usd,
        description=f"cost US$ {cost_usd:.4f} (budget US$ {budget_usd:.2f})",
        metadata={"cost_usd": round(cost_usd, 6), "budget_usd": budget_usd},
    )
