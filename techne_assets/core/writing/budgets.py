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
"""

from __future__ import annotations

import math

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
