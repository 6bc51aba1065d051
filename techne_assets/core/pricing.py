"""Usage → cost, from the service's real usage fields and a per-model price table."""

from __future__ import annotations

from pydantic import BaseModel

PER_MILLION = 1_000_000


class ModelPrice(BaseModel):
    """US$ per 1M tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


def call_cost_usd(
    price: ModelPrice,
    *,
    input_tokens: int,
    output_tokens: int,
    cache_read_input_tokens: int = 0,
    cache_write_input_tokens: int = 0,
) -> float:
    """Cost of one call. `input_tokens` is the uncached input, as Bedrock's usage reports it."""
    return (
        input_tokens * price.input
        + output_tokens * price.output
        + cache_write_input_tokens * price.cache_write
        + cache_read_input_tokens * price.cache_read
    ) / PER_MILLION
