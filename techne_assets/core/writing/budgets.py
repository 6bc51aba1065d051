"""Output budgets (`maxTokens`) derived from what each call must cover.

A fixed budget either cuts a long call's document or, when generous, makes every request
reserve quota it never uses: Bedrock admits a call against `input + maxTokens × burndown`
(5 for Claude 4), so an extraction asking for 16K tokens reserves 80K of a 200K tokens/min
window. Each budget here is an estimate of the answer's size from the number of items (or
tokens) the call must cover, times a headroom factor, so a call is neither cut nor holding
quota for nothing. When a group's budget would pass the model's output limit, its items are
split into parts that run in parallel. A call cut all the same still gets the old fallbacks
(an extraction split in two halves, a later stage retried once with twice its budget).

The per-item sizes are the sizes measured on the Converse simulator's schema-valid answers
for the 3-hour benchmark call (benchmarks/RESULTS.md), counted with the project's conservative
token estimate; the output tokens a real model returns per stage are recorded in every draft's
`calls`, so they can be compared with these figures and the figures adjusted.

The extraction plan (`plan_extraction`) sizes the chunks against the quota. A 3-hour call's
extractions reserve more than one 200K tokens/min window holds for any chunking (each reserves
its chunk plus `burndown × 0.3 ×` its chunk), so some must wait for the next window; what the
plan decides is which. A full wave is the largest chunks of which `WAVE_CALLS` fit in the window
at once; what is left after the full waves is a shorter stretch, cut into up to a wave of small
chunks that run in the next window and answer quickly. The writer runs the extractions a wave at
a time, so a small chunk never takes the window's room before a large one. A call whose
extractions all fit in one window is cut into up to a wave of even chunks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

# Output tokens of one written item, per outline kind, without headroom. The section groups name
# unchanged notes and listed entries by id (sources.py), so an item costs what is rewritten:
# measured on the simulator, about 95 per topic, 120 per procedure, 30 per problem and 10 per
# listed entry; these allow for a model that rewrites more of them.
ITEM_OUTPUT_TOKENS: dict[str, int] = {
    "topics": 160,
    "procedures": 220,
    "problems": 80,
    "questions": 60,
    "action_items": 40,
    "references": 30,
    "terms": 40,
    # a lecture's review question is written whole
    "review_questions": 180,
}
GROUP_BASE_TOKENS = 400
SUMMARY_TOKENS = 600
HEADROOM = 1.3
MIN_BUDGET = 1024

# Terse extraction notes come to about a fourth of their chunk (0.23 measured); budget 0.30,
# plus the JSON's frame.
EXTRACTION_OUTPUT_PER_CHUNK_TOKEN = 0.30
EXTRACTION_BASE_TOKENS = 512
# The merge answers with note ids (and a title only when it changes one): about 13 per note.
MERGE_TOKENS_PER_ENTRY = 25
REVIEW_TOKENS_PER_ITEM = 30


def _bounded(estimate: float, cap: int) -> int:
    return min(cap, max(MIN_BUDGET, math.ceil(estimate)))


def extraction_budget(chunk_tokens: int, cap: int) -> int:
    return _bounded(EXTRACTION_BASE_TOKENS + EXTRACTION_OUTPUT_PER_CHUNK_TOKEN * chunk_tokens, cap)


def merge_budget(extracted_entries: int, cap: int) -> int:
    return _bounded(HEADROOM * (GROUP_BASE_TOKENS + MERGE_TOKENS_PER_ENTRY * extracted_entries), cap)


def review_budget(items: int, cap: int) -> int:
    return _bounded(GROUP_BASE_TOKENS + REVIEW_TOKENS_PER_ITEM * items, cap)


def group_estimate(counts: dict[str, int], *, with_summary: bool = False) -> float:
    """Expected output tokens of a section group covering `counts` items per outline kind."""
    items = sum(ITEM_OUTPUT_TOKENS[kind] * count for kind, count in counts.items())
    return GROUP_BASE_TOKENS + (SUMMARY_TOKENS if with_summary else 0) + items


def group_budget(counts: dict[str, int], cap: int, *, with_summary: bool = False) -> int:
    return _bounded(HEADROOM * group_estimate(counts, with_summary=with_summary), cap)


def parts_needed(counts: dict[str, int], cap: int, *, with_summary: bool = False) -> int:
    """How many parallel parts a group must be split into so each part's budget fits `cap`."""
    needed = HEADROOM * group_estimate(counts, with_summary=with_summary)
    room = cap - HEADROOM * GROUP_BASE_TOKENS
    return max(1, math.ceil((needed - HEADROOM * GROUP_BASE_TOKENS) / room)) if needed > cap else 1


# ---- the extraction plan ----------------------------------------------------------------------

# Extractions run at once: four fit a 3-hour call's window with chunks of about 16K tokens; more
# calls per wave would be smaller chunks, each paying the shared prefix and the base budget again.
WAVE_CALLS = 4
# A chunk smaller than this is not worth its own call: every call pays the shared prefix, the
# base budget, and its own topics for the merge to join (measured on the simulator: the tail of
# a 3-hour call in four pieces of 2K tokens cost US$ 0.82 per video against 0.80 in two of 4K,
# to end the extractions about 10 s sooner).
MIN_CHUNK_TOKENS = 4_000
# Room kept in the window for what the writer's count of a request may miss: the client frames
# the tool and the messages itself (the writer measures the real first wave and plans again
# when it overshoots, so this is small).
QUOTA_MARGIN = 0.02


def quota_window(tokens_per_minute: int) -> int:
    """The quota tokens a wave of extractions may reserve: the window less `QUOTA_MARGIN`."""
    return math.floor(tokens_per_minute * (1 - QUOTA_MARGIN))


def extraction_reservation(
    chunk_tokens: int, call_tokens: int, output_burndown: float, cap: int, *, chunk_sent: bool = True
) -> int:
    """Quota tokens an extraction reserves at admission: its whole input (the chunk, unless the
    prefix already holds the whole transcript, plus the `call_tokens` of system prompt, prefix,
    instructions and tool schema every call sends) and its output budget times the burndown."""
    budget = extraction_budget(chunk_tokens, cap)
    return (chunk_tokens if chunk_sent else 0) + call_tokens + math.ceil(output_burndown * budget)


@dataclass(frozen=True)
class ExtractionPlan:
    """How the transcript is cut for extraction, in tokens of the lines the requests carry.

    `even_chunks`: the whole call fits one window, cut into this many even chunks (0 when it does
    not); otherwise every chunk but the tail is cut at `chunk_tokens` and the tail is cut by
    `tail_chunks`. `wave_calls`: extractions run at once; `wave_tokens`: the quota one full wave
    reserves, by the plan's estimate."""

    chunk_tokens: int
    even_chunks: int
    wave_calls: int
    wave_tokens: int

    def tail_chunks(self, full_chunks: int, tail_tokens: int) -> int:
        """Even pieces for the stretch after `full_chunks` full chunks: as many as the last wave
        has room for beside the full chunks it runs, each worth a call."""
        room = self.wave_calls - full_chunks % self.wave_calls
        return max(1, min(room, tail_tokens // MIN_CHUNK_TOKENS))


def plan_extraction(
    transcript_tokens: int,
    call_tokens: int,
    *,
    tokens_per_minute: int,
    output_burndown: float,
    max_chunk_tokens: int,
    max_output_tokens: int,
    max_parallel_calls: int,
    chunk_sent: bool = True,
) -> ExtractionPlan:
    """The chunks and waves that keep every wave of extractions within one window of
    `tokens_per_minute` (less `QUOTA_MARGIN`), each chunk at most `max_chunk_tokens` and each
    extraction's budget the one that covers its chunk (`extraction_budget`). `chunk_sent`:
    False when the requests point into the whole transcript held by `call_tokens`."""
    window = quota_window(tokens_per_minute)
    wave = max(1, min(WAVE_CALLS, max_parallel_calls))
    total = max(1, transcript_tokens)
    smallest = min(MIN_CHUNK_TOKENS, max_chunk_tokens)

    def reserved(chunk: int, calls: int) -> int:
        return calls * extraction_reservation(
            chunk, call_tokens, output_burndown, max_output_tokens, chunk_sent=chunk_sent
        )

    # The whole call in one window: even chunks, as many as a wave holds and are worth a call.
    even = max(math.ceil(total / max_chunk_tokens), min(wave, total // MIN_CHUNK_TOKENS), 1)
    if even <= wave and reserved(math.ceil(total / even), even) <= window:
        chunk = math.ceil(total / even)
        return ExtractionPlan(chunk, even_chunks=even, wave_calls=even, wave_tokens=reserved(chunk, even))
    # Full waves of the largest chunks of which `calls` fit at once, `calls` as close to a wave
    # as the quota allows; a single call that can never fit is left for the limiter to refuse.
    calls = wave
    largest = _largest_fitting(lambda chunk: reserved(chunk, wave) <= window, max_chunk_tokens)
    while largest < smallest and calls > 1:
        calls -= 1
        largest = _largest_fitting(lambda chunk, calls=calls: reserved(chunk, calls) <= window, max_chunk_tokens)
    chunk = max(largest, smallest)
    return ExtractionPlan(chunk, even_chunks=0, wave_calls=calls, wave_tokens=reserved(chunk, calls))


def _largest_fitting(fits: Callable[[int], bool], upper: int) -> int:
    """The largest chunk size in 1..upper that `fits` (monotonic), or 0 when none does."""
    low, high = 0, upper
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low
