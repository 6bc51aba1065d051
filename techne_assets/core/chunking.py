"""Token-budgeted chunks of a transcript, cut preferably where the conversation turns.

A chunk is a run of whole segments rendered as timestamped, speaker-labelled lines. Cuts fall
at a speaker change or a pause of at least 2 s when one lies in the second half of the chunk;
otherwise the chunk simply ends before the segment that would overflow it. A segment that
alone exceeds the budget is split at word boundaries, with times interpolated by word
position (a single word longer than the budget is split between its characters).

Segments are expected in time order, as the parsers deliver them.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import accumulate

from pydantic import BaseModel, Field

from techne_assets.core.tokens import MAX_TOKENS_PER_CHARACTER, estimate_tokens
from techne_assets.core.transcript import Segment, Transcript, format_segment_line

PAUSE_BREAK_SECONDS = 2.0
# A preferred cut may shorten a chunk to no less than this share of what would fit.
MIN_FILL_AT_PREFERRED_CUT = 0.5
# Lines are joined with line breaks, and each line break is one token (see core/tokens.py).
LINE_BREAK_TOKENS = estimate_tokens("\n")


class Chunk(BaseModel):
    index: int = Field(ge=0)
    start: float = Field(description="start of the first segment, in seconds")
    end: float = Field(description="latest end among the segments, in seconds")
    segments: list[Segment]
    text: str = Field(description="one `[HH:MM:SS] Speaker: text` line per segment")
    tokens: int = Field(description="estimate_tokens(text)")
    overlap: int = Field(
        default=0,
        ge=0,
        description="how many leading segments repeat the end of the previous chunk",
    )

    @property
    def new_segments(self) -> list[Segment]:
        """The segments that no earlier chunk holds."""
        return self.segments[self.overlap :]


def chunk_transcript(
    transcript: Transcript, max_tokens: int, overlap_tokens: int = 0
) -> list[Chunk]:
    """Chunks of at most `max_tokens`, each repeating up to `overlap_tokens` of the previous one."""
    _check_overlap(max_tokens, overlap_tokens)
    return _Pieces(transcript, max_tokens).chunks(max_tokens, overlap_tokens)


def chunk_evenly(
    transcript: Transcript, count: int, max_tokens: int, overlap_tokens: int = 0
) -> list[Chunk]:
    """At most `count` chunks of about the same size (the smallest budget up to `max_tokens`
    that needs no more than `count`), or the chunks of `max_tokens` when even those are more.

    The chunker fills each chunk to its budget, so a budget of the total over `count` would
    leave a short last chunk, or one more chunk than asked for when cuts fall at natural breaks."""
    _check_overlap(max_tokens, overlap_tokens)
    count = max(1, count)
    pieces = _Pieces(transcript, max_tokens)
    low = max(overlap_tokens + 1, min(max_tokens, -(-pieces.total_tokens // count)))
    high = max_tokens
    best = pieces.chunks(high, overlap_tokens)
    if len(best) > count:
        return best
    while low < high:  # bisection: a larger budget hardly ever needs more chunks
        middle = (low + high) // 2
        candidate = pieces.chunks(middle, overlap_tokens)
        if len(candidate) <= count:
            best, high = candidate, middle
        else:
            low = middle + 1
    return best


def with_tail_split(chunks: list[Chunk], pieces: int, overlap_tokens: int = 0) -> list[Chunk]:
    """`chunks` with the last one cut into up to `pieces` even chunks (renumbered; the first
    piece repeats what the last chunk repeated of the one before)."""
    if pieces <= 1 or not chunks:
        return chunks
    tail = chunks[-1]
    split = chunk_evenly(Transcript(segments=tail.segments), pieces, tail.tokens, min(overlap_tokens, tail.tokens - 1))
    if len(split[0].segments) <= tail.overlap:  # the first piece would hold nothing new
        return chunks
    first = len(chunks) - 1
    split[0] = split[0].model_copy(update={"overlap": tail.overlap})
    return chunks[:-1] + [chunk.model_copy(update={"index": first + n}) for n, chunk in enumerate(split)]


def _check_overlap(max_tokens: int, overlap_tokens: int) -> None:
    if not 0 <= overlap_tokens < max_tokens:
        raise ValueError(
            f"overlap_tokens must be at least 0 and below max_tokens ({max_tokens}), "
            f"got {overlap_tokens}"
        )


class _Pieces:
    """A transcript's segments as pieces that fit `max_tokens`, with their line costs, cut into
    chunks of any budget up to that one (a piece that fits the largest budget may not fit a
    smaller one: `chunks` re-splits only when a budget is below the longest piece)."""

    def __init__(self, transcript: Transcript, max_tokens: int):
        self.transcript = transcript
        self.max_tokens = max_tokens
        self.pieces = [piece for segment in transcript.segments for piece in _fit(segment, max_tokens)]
        self.costs = [estimate_tokens(format_segment_line(piece)) for piece in self.pieces]
        self.total_tokens = sum(self.costs) + max(0, len(self.costs) - 1) * LINE_BREAK_TOKENS

    def chunks(self, max_tokens: int, overlap_tokens: int) -> list[Chunk]:
        if self.costs and max(self.costs) > max_tokens:
            return _Pieces(self.transcript, max_tokens).chunks(max_tokens, overlap_tokens)
        return _cut(self.pieces, self.costs, max_tokens, overlap_tokens)


def _cut(pieces: list[Segment], costs: list[int], max_tokens: int, overlap_tokens: int) -> list[Chunk]:
    # Tokens of pieces[a:b] as lines: cost_before[b] - cost_before[a] + line breaks between them.
    cost_before = [0, *accumulate(costs)]

    def lines_tokens(first: int, stop: int) -> int:
        if stop <= first:
            return 0
        return cost_before[stop] - cost_before[first] + (stop - first - 1) * LINE_BREAK_TOKENS

    chunks: list[Chunk] = []
    first_new = 0
    previous_first_new = 0
    while first_new < len(pieces):
        room_for_overlap = min(overlap_tokens, max_tokens - costs[first_new] - LINE_BREAK_TOKENS)
        overlap_first = first_new
        while (
            overlap_first > previous_first_new
            and lines_tokens(overlap_first - 1, first_new) <= room_for_overlap
        ):
            overlap_first -= 1

        stop = first_new + 1
        while stop < len(pieces) and lines_tokens(overlap_first, stop + 1) <= max_tokens:
            stop += 1
        if stop < len(pieces):
            stop = _preferred_cut(pieces, first_new, stop, lines_tokens)

        segments = pieces[overlap_first:stop]
        text = "\n".join(format_segment_line(segment) for segment in segments)
        chunks.append(
            Chunk(
                index=len(chunks),
                start=segments[0].start,
                end=max(segment.end for segment in segments),
                segments=segments,
                text=text,
                tokens=estimate_tokens(text),
                overlap=first_new - overlap_first,
            )
        )
        previous_first_new, first_new = first_new, stop
    return chunks


def _is_natural_break(before: Segment, after: Segment) -> bool:
    return before.speaker != after.speaker or after.start - before.end >= PAUSE_BREAK_SECONDS


def _preferred_cut(
    pieces: list[Segment], first_new: int, stop: int, lines_tokens: Callable[[int, int], int]
) -> int:
    """The latest natural break in pieces[first_new:stop] that keeps enough text, else `stop`."""
    least = MIN_FILL_AT_PREFERRED_CUT * lines_tokens(first_new, stop)
    for cut in range(stop, first_new, -1):
        if lines_tokens(first_new, cut) < least:
            break
        if _is_natural_break(pieces[cut - 1], pieces[cut]):
            return cut
    return stop


def _fit(segment: Segment, max_tokens: int) -> list[Segment]:
    """The segment itself when its line fits the budget, else consecutive pieces that each fit."""
    if estimate_tokens(format_segment_line(segment)) <= max_tokens:
        return [segment]
    # The label costs the most at the latest time (more hour digits): this room suits every piece.
    label_tokens = estimate_tokens(
        format_segment_line(segment.model_copy(update={"start": segment.end, "text": ""}))
    )
    room = max_tokens - label_tokens
    if room < MAX_TOKENS_PER_CHARACTER:
        raise ValueError(
            f"max_tokens={max_tokens} leaves no room for text after a line's timestamp and speaker"
        )
    words = segment.text.split()
    # Whole words, or slices of a word too long for a line, each at its position counted in words.
    atoms: list[tuple[float, str]] = []
    for position, word in enumerate(words):
        if estimate_tokens(word) <= room:
            atoms.append((position, word))
        else:
            atoms.extend(
                (position + offset / len(word), part) for offset, part in _split_word(word, room)
            )

    pieces: list[Segment] = []
    taken: list[str] = []
    taken_tokens = 0
    taken_from = 0.0

    def close(until: float) -> None:
        span = segment.end - segment.start
        pieces.append(
            Segment(
                start=segment.start + span * taken_from / len(words),
                end=segment.start + span * until / len(words),
                speaker=segment.speaker,
                text=" ".join(taken),
            )
        )

    for position, atom in atoms:
        atom_tokens = estimate_tokens(atom)
        if taken and taken_tokens + atom_tokens > room:
            close(position)
            taken, taken_tokens = [], 0
        if not taken:
            taken_from = position
        taken.append(atom)
        taken_tokens += atom_tokens
    close(len(words))
    return pieces


def _split_word(word: str, room: int) -> list[tuple[int, str]]:
    """Consecutive slices of an over-long word, each within `room` tokens, with their offsets."""
    parts: list[tuple[int, str]] = []
    offset = 0
    while offset < len(word):
        # A slice's cost never drops as it grows, so bisection finds the longest one that fits.
        low, high = offset + 1, len(word)
        while low < high:
            middle = (low + high + 1) // 2
            if estimate_tokens(word[offset:middle]) <= room:
                low = middle
            else:
                high = middle - 1
        parts.append((offset, word[offset:low]))
        offset = low
    return parts
