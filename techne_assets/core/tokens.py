"""A deterministic, conservative estimate of Claude tokens for pt-BR text.

Used only where a number is needed before any call is made: chunk budgets and the quota
limiter's admission. Billing and cost reports always use the token counts the service
returns in its usage fields (see core/pricing.py), never this estimate.

Calibration: a 3-hour pt-BR call of 25-30K words comes to about 40-60K Claude tokens
(1.6-2 tokens per word). The estimate aims at the upper end, so a budget computed with it
is rarely exceeded by the real count:

- a run of letters costs one token per started 4 letters, plus one for every second
  non-ASCII letter (accented letters take two UTF-8 bytes and split byte-level merges);
- a run of digits costs one token per started 3 digits;
- each punctuation mark or symbol costs one token (two when it is not ASCII, like emoji);
- each line break costs one token; other whitespace is free (it merges into the next word).

The cost of a text is the sum of the costs of its pieces, so joining texts with spaces adds
nothing and joining them with line breaks adds one token per break. The chunker relies on this.
"""

from __future__ import annotations

import re

# No single character costs more than this, so a budget this large always fits some text.
MAX_TOKENS_PER_CHARACTER = 2

_PIECES = re.compile(
    r"(?P<letters>[^\W\d_]+)|(?P<digits>\d+)|(?P<newline>\n)|(?P<symbol>[^\w\s]|_)"
)


def _letters_cost(run: str) -> int:
    non_ascii = sum(1 for char in run if ord(char) > 127)
    return (len(run) + 3) // 4 + non_ascii // 2


def estimate_tokens(text: str) -> int:
    """Estimated Claude tokens for `text` (see the module docstring for the rules)."""
    total = 0
    for match in _PIECES.finditer(text):
        kind = match.lastgroup
        piece = match.group()
        if kind == "letters":
            total += _letters_cost(piece)
        elif kind == "digits":
            total += (len(piece) + 2) // 3
        elif kind == "newline":
            total += 1
        else:
            total += 1 if ord(piece) < 128 else 2
    return total
