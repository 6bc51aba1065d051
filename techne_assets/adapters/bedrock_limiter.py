"""Guards in front of every Bedrock call: a quota limiter and a circuit breaker.

Both keep their state in a `SharedStateStore` under the model id, so every process and
every ECS task calling the same model shares one quota and one breaker.

Quota accounting follows Amazon Bedrock's documented token burndown
(docs: "How tokens are counted in Amazon Bedrock"):
- at admission the service reserves the whole input (cached or not) plus `max_tokens`
  output; the limiter reserves `input + max_tokens * burndown` (conservative: the output
  is charged at the burndown rate from the start);
- at settlement a call costs `inputTokens + cacheWriteInputTokens + outputTokens * burndown`;
  cache reads are not charged against tokens per minute, so the reservation made for the
  cached prefix is given back.

The limiter is a sliding window: every admitted call holds its tokens and its request for
`window_seconds` after admission, then they return to the quota. A continuously refilling
token bucket would admit up to twice the quota in the first minute after an idle spell
(a full bucket plus a minute of refill), which a per-minute service window throttles; the
window admits exactly what any 60 s span allows, so it stays under the service whether the
service counts by window or by bucket. `safety_seconds` widens the window a little for the
delay between our admission and the service receiving the call, and clock skew.
"""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from functools import partial
from typing import Any

from techne_assets.adapters.bedrock_state import SharedStateStore, State


class BedrockError(Exception):
    """Base of the Bedrock adapter's typed errors."""


class CircuitOpenError(BedrockError):
    """The breaker is open: no call is made until `retry_after_seconds` have passed."""

    def __init__(self, message: str, *, retry_after_seconds: int):
        super().__init__(message)
        self.retry_after_seconds = retry_after_seconds


class ReservationTooLargeError(BedrockError):
    """A call whose reservation exceeds the whole per-minute quota could never be admitted."""


class QuotaWaitTimeoutError(BedrockError):
    """The quota did not free up within the limiter's maximum wait."""


@dataclass(frozen=True)
class Reservation:
    call_id: str
    admitted_at: float
    tokens: int
    waited_seconds: float


@dataclass(frozen=True)
class WindowUsage:
    requests: int
    tokens: int


def settled_quota_tokens(
    *, input_tokens: int, cache_write_input_tokens: int, output_tokens: int, output_burndown: float
) -> int:
    """Quota tokens a finished call consumed (cache reads are not charged)."""
    return input_tokens + cache_write_input_tokens + math.ceil(output_tokens * output_burndown)


class QuotaLimiter:
    """Admits a call only when both requests/min and tokens/min have room for it."""

    def __init__(
        self,
        store: SharedStateStore,
        key: str,
        *,
        requests_per_minute: int,
        tokens_per_minute: int,
        output_burndown: float,
        window_seconds: float = 60.0,
        safety_seconds: float = 1.0,
        max_wait_seconds: float = 900.0,
        poll_seconds: float = 1.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.store = store
        self.key = key
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.output_burndown = output_burndown
        # Wall-clock time (not monotonic): admissions are compared across processes and hosts.
        self.horizon_seconds = window_seconds + safety_seconds
        self.max_wait_seconds = max_wait_seconds
        self.poll_seconds = poll_seconds
        self._clock = clock
        self._sleep = sleep

    def reservation_tokens(self, *, input_tokens: int, max_tokens: int) -> int:
        return input_tokens + math.ceil(max_tokens * self.output_burndown)

    def acquire(self, *, input_tokens: int, max_tokens: int) -> Reservation:
        """Waits until the call fits in both quotas, then reserves it."""
        tokens = self.reservation_tokens(input_tokens=input_tokens, max_tokens=max_tokens)
        if tokens > self.tokens_per_minute:
            raise ReservationTooLargeError(
                f"a call reserving {tokens} quota tokens ({input_tokens} input + {max_tokens} "
                f"max output x {self.output_burndown:g}) can never fit in {self.tokens_per_minute} "
                "tokens/min; lower max_tokens or the input size, or raise the quota"
            )
        started = self._clock()
        while True:
            call_id = uuid.uuid4().hex
            now = self._clock()
            wait = self.store.update(
                self.key, partial(self._admit, now=now, call_id=call_id, tokens=tokens)
            )
            if wait == 0.0:
                return Reservation(call_id, now, tokens, waited_seconds=now - started)
            if now - started + wait > self.max_wait_seconds:
                raise QuotaWaitTimeoutError(
                    f"waited {now - started:.0f} s and the quota needs {wait:.0f} s more for a call "
                    f"of {tokens} quota tokens; the limit is {self.max_wait_seconds:.0f} s"
                )
            # Small steps: a call settling below its reservation can free room sooner.
            self._sleep(min(wait, self.poll_seconds))

    def settle(
        self,
        reservation: Reservation,
        *,
        input_tokens: int,
        cache_write_input_tokens: int,
        output_tokens: int,
    ) -> int:
        """Replaces the reservation by what the call really consumed; returns the tokens refunded."""
        used = settled_quota_tokens(
            input_tokens=input_tokens,
            cache_write_input_tokens=cache_write_input_tokens,
            output_tokens=output_tokens,
            output_burndown=self.output_burndown,
        )
        self.store.update(
            self.key, lambda state: (_set_call_tokens(state, reservation.call_id, used), None)
        )
        return reservation.tokens - used

    def release(self, reservation: Reservation) -> None:
        """Gives the whole reservation back: the service refused the call and consumed nothing."""
        self.store.update(self.key, lambda state: (_drop_call(state, reservation.call_id), None))

    def usage(self) -> WindowUsage:
        """Requests and quota tokens held in the current window."""
        now = self._clock()
        calls = self._live_calls(self.store.read(self.key), now)
        return WindowUsage(requests=len(calls), tokens=sum(tokens for _, _, tokens in calls))

    def _live_calls(self, state: State, now: float) -> list[list[Any]]:
        return [call for call in state.get("calls", []) if call[1] > now - self.horizon_seconds]

    def _admit(self, state: State, now: float, call_id: str, tokens: int) -> tuple[State, float]:
        """Admits the call (wait 0.0) or returns the seconds until it would fit."""
        calls = sorted(self._live_calls(state, now), key=lambda call: call[1])
        used = sum(call[2] for call in calls)
        request_wait = token_wait = 0.0
        excess_requests = len(calls) + 1 - self.requests_per_minute
        if excess_requests > 0:
            request_wait = calls[excess_requests - 1][1] + self.horizon_seconds - now
        if used + tokens > self.tokens_per_minute:
            freed = 0
            for _, admitted_at, call_tokens in calls:
                freed += call_tokens
                if used - freed + tokens <= self.tokens_per_minute:
                    token_wait = admitted_at + self.horizon_seconds - now
                    break
        wait = max(request_wait, token_wait)
        if wait > 0:
            # Unchanged, so the store writes nothing while a caller polls for room.
            return state, wait
        return {**state, "calls": [*calls, [call_id, now, tokens]]}, 0.0


def _set_call_tokens(state: State, call_id: str, tokens: int) -> State:
    # A call that outlived the window is no longer held; nothing to adjust then.
    calls = [
        [cid, at, tokens if cid == call_id else held] for cid, at, held in state.get("calls", [])
    ]
    return {**state, "calls": calls}


def _drop_call(state: State, call_id: str) -> State:
    return {**state, "calls": [call for call in state.get("calls", []) if call[0] != call_id]}


class CircuitState(str, Enum):
    CLOSED = "CLOSED"  # calls flow
    OPEN = "OPEN"  # quota exhausted: calls fail at once
    HALF_OPEN = "HALF_OPEN"  # one probe call tests whether the quota recovered


@dataclass(frozen=True)
class BreakerStatus:
    state: CircuitState
    failures: int
    retry_after_seconds: int


class CircuitBreaker:
    """Opens after `failure_threshold` consecutive quota/availability failures; after
    `timeout_seconds` lets one probe through; the probe's success closes it again.

    `timeout_seconds` also bounds a probe: if its caller dies without reporting, another
    caller may probe once that time has passed."""

    def __init__(
        self,
        store: SharedStateStore,
        key: str,
        *,
        failure_threshold: int = 5,
        timeout_seconds: float = 300.0,
        clock: Callable[[], float] = time.time,
    ):
        self.store = store
        self.key = key
        self.failure_threshold = failure_threshold
        self.timeout_seconds = timeout_seconds
        self._clock = clock

    def before_call(self) -> None:
        """Raises `CircuitOpenError` unless this call may go to the service."""
        now = self._clock()
        retry_after = self.store.update(self.key, lambda state: self._enter(state, now))
        if retry_after:
            raise CircuitOpenError(
                f"Bedrock quota exhausted; circuit open, retry after {retry_after} s",
                retry_after_seconds=retry_after,
            )

    def record_success(self) -> None:
        self._write(
            lambda breaker: {
                **breaker,
                "state": CircuitState.CLOSED.value,
                "failures": 0,
                "opened_at": None,
                "probe_started_at": None,
            }
        )

    def record_failure(self) -> None:
        """A quota or availability failure."""
        now = self._clock()

        def fail(breaker: dict[str, Any]) -> dict[str, Any]:
            failures = breaker["failures"] + 1
            if (
                breaker["state"] == CircuitState.HALF_OPEN.value
                or failures >= self.failure_threshold
            ):
                return {
                    **breaker,
                    "state": CircuitState.OPEN.value,
                    "failures": failures,
                    "opened_at": now,
                    "probe_started_at": None,
                }
            return {**breaker, "failures": failures}

        self._write(fail)

    def release_probe(self) -> None:
        """The call ended in a way that says nothing about the quota (e.g. a bad request)."""
        self._write(lambda breaker: {**breaker, "probe_started_at": None})

    def status(self) -> BreakerStatus:
        now = self._clock()
        breaker = _breaker(self.store.read(self.key))
        return BreakerStatus(
            state=CircuitState(breaker["state"]),
            failures=breaker["failures"],
            retry_after_seconds=self._retry_after(breaker, now),
        )

    def _write(self, change: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        def apply(state: State) -> tuple[State, None]:
            breaker = _breaker(state)
            changed = change(breaker)
            # An unchanged breaker leaves the state as read, so the store writes nothing.
            return (state if changed == breaker else {**state, "breaker": changed}), None

        self.store.update(self.key, apply)

    def _retry_after(self, breaker: dict[str, Any], now: float) -> int:
        if breaker["state"] == CircuitState.OPEN.value:
            return max(0, math.ceil(breaker["opened_at"] + self.timeout_seconds - now))
        if (
            breaker["state"] == CircuitState.HALF_OPEN.value
            and breaker["probe_started_at"] is not None
        ):
            return max(0, math.ceil(breaker["probe_started_at"] + self.timeout_seconds - now))
        return 0

    def _enter(self, state: State, now: float) -> tuple[State, int]:
        breaker = _breaker(state)
        retry_after = self._retry_after(breaker, now)
        if retry_after:
            return state, retry_after
        if breaker["state"] == CircuitState.CLOSED.value:
            return state, 0
        # Timeout over (or the last probe went silent): this caller is the probe.
        breaker = {**breaker, "state": CircuitState.HALF_OPEN.value, "probe_started_at": now}
        return {**state, "breaker": breaker}, 0


def _breaker(state: State) -> dict[str, Any]:
    return state.get("breaker") or {
        "state": CircuitState.CLOSED.value,
        "failures": 0,
        "opened_at": None,
        "probe_started_at": None,
    }
