"""One process's share of a quota workload: a few Converse calls through the real client,
limiter and breaker, with state in a shared SQLite file, against the endpoint that boto3's
standard configuration names (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`). Module-level so that
`multiprocessing` 'spawn' children can import it."""

from __future__ import annotations

import time
from dataclasses import dataclass

from botocore.exceptions import ClientError

from techne_assets.adapters.bedrock import BedrockConverseClient, BedrockError
from techne_assets.adapters.bedrock_limiter import CircuitBreaker, QuotaLimiter, Reservation
from techne_assets.adapters.bedrock_state import SqliteStateStore
from techne_assets.core.pricing import ModelPrice

PRICE = ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30)


def text_of_tokens(tokens: int) -> str:
    """Text that `estimate_tokens` counts as exactly `tokens`: 7-letter words cost 2 tokens,
    a 4-letter word 1, and the spaces between them nothing."""
    words = ["palavra"] * (tokens // 2) + ["dado"] * (tokens % 2)
    return " ".join(words)


@dataclass(frozen=True)
class QuotaSetup:
    state_path: str
    model_id: str
    requests_per_minute: int
    tokens_per_minute: int
    output_burndown: float
    time_scale: float  # the simulator's: one simulated minute lasts 60 * time_scale seconds


@dataclass(frozen=True)
class CallOutcome:
    ok: bool
    error: str | None
    waited_seconds: float  # real seconds spent waiting for the limiter
    started_at: float  # wall clock
    finished_at: float
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_write_input_tokens: int = 0


class _WaitRecordingLimiter(QuotaLimiter):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.waits: list[float] = []

    def acquire(self, *, input_tokens: int, max_tokens: int) -> Reservation:
        reservation = super().acquire(input_tokens=input_tokens, max_tokens=max_tokens)
        self.waits.append(reservation.waited_seconds)
        return reservation


def run_calls(
    setup: QuotaSetup,
    *,
    calls: int,
    system: str,
    prompt: str,
    max_tokens: int,
    cached_prefix: str | None = None,
) -> list[CallOutcome]:
    store = SqliteStateStore(setup.state_path)
    scale = setup.time_scale
    limiter = _WaitRecordingLimiter(
        store,
        setup.model_id,
        requests_per_minute=setup.requests_per_minute,
        tokens_per_minute=setup.tokens_per_minute,
        output_burndown=setup.output_burndown,
        window_seconds=60.0 * scale,
        # One simulated second, plus the real time a request takes to reach the simulator
        # (serialising and sending ~80 KB), which does not shrink with the time scale.
        safety_seconds=1.0 * scale + 0.25,
        max_wait_seconds=900.0 * scale,
        poll_seconds=max(1.0 * scale, 0.01),
    )
    breaker = CircuitBreaker(store, setup.model_id, timeout_seconds=300.0 * scale)
    client = BedrockConverseClient(
        setup.model_id, price_table={setup.model_id: PRICE}, limiter=limiter, breaker=breaker
    )
    outcomes = []
    for number in range(calls):
        started = time.time()
        waits_before = len(limiter.waits)
        try:
            reply = client.converse(
                stage=f"call-{number}",
                system=system,
                prompt=prompt,
                cached_prefix=cached_prefix,
                max_tokens=max_tokens,
            )
        except (BedrockError, ClientError) as error:  # reported to the parent, which asserts none
            outcomes.append(
                CallOutcome(
                    False,
                    f"{type(error).__name__}: {error}",
                    sum(limiter.waits[waits_before:]),
                    started,
                    time.time(),
                )
            )
            continue
        outcomes.append(
            CallOutcome(
                True,
                None,
                sum(limiter.waits[waits_before:]),
                started,
                time.time(),
                input_tokens=reply.usage.input_tokens,
                output_tokens=reply.usage.output_tokens,
                cache_read_input_tokens=reply.usage.cache_read_input_tokens,
                cache_write_input_tokens=reply.usage.cache_write_input_tokens,
            )
        )
    return outcomes
