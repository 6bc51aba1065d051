"""The circuit breaker's transitions (fake clock), its sharing across processes, and how an
open circuit reaches Dagster."""

from __future__ import annotations

import dagster as dg
import pytest

from techne_assets.adapters.bedrock import BedrockRequestError
from techne_assets.adapters.bedrock_limiter import CircuitBreaker, CircuitOpenError, CircuitState
from techne_assets.adapters.bedrock_state import InProcessStateStore, SqliteStateStore
from techne_assets.defs.bedrock_resource import (
    BEDROCK_RETRY_POLICY,
    bedrock_errors_to_dagster,
    retry_request_for,
)
from techne_assets.testing.clock import FakeClock

MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"


def make_breaker(store=None, clock=None) -> CircuitBreaker:
    return CircuitBreaker(
        store or InProcessStateStore(),
        MODEL,
        failure_threshold=5,
        timeout_seconds=300,
        clock=clock or FakeClock(),
    )


def open_breaker(breaker: CircuitBreaker) -> None:
    for _ in range(5):
        breaker.before_call()
        breaker.record_failure()


def test_five_consecutive_failures_open_the_circuit():
    breaker = make_breaker()
    for _ in range(4):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.status().state is CircuitState.CLOSED
    breaker.before_call()
    breaker.record_failure()
    assert breaker.status().state is CircuitState.OPEN
    with pytest.raises(
        CircuitOpenError, match=r"^Bedrock quota exhausted; circuit open, retry after 300 s$"
    ) as raised:
        breaker.before_call()
    assert raised.value.retry_after_seconds == 300


def test_a_success_resets_the_count_of_consecutive_failures():
    breaker = make_breaker()
    for _ in range(4):
        breaker.record_failure()
    breaker.record_success()
    for _ in range(4):
        breaker.record_failure()
    # 8 failures in all, but never 5 in a row.
    assert breaker.status().state is CircuitState.CLOSED
    assert breaker.status().failures == 4


def test_the_wait_shrinks_as_time_passes():
    clock = FakeClock()
    breaker = make_breaker(clock=clock)
    open_breaker(breaker)
    clock.advance(120)
    with pytest.raises(CircuitOpenError) as raised:
        breaker.before_call()
    assert raised.value.retry_after_seconds == 180


def test_after_the_timeout_one_probe_goes_through_and_its_success_closes():
    clock = FakeClock()
    breaker = make_breaker(clock=clock)
    open_breaker(breaker)
    clock.advance(300)
    breaker.before_call()  # the probe
    assert breaker.status().state is CircuitState.HALF_OPEN
    with pytest.raises(CircuitOpenError):
        breaker.before_call()  # a second caller while the probe is out
    breaker.record_success()
    assert breaker.status().state is CircuitState.CLOSED and breaker.status().failures == 0
    breaker.before_call()
    breaker.before_call()


def test_a_failed_probe_opens_the_circuit_for_another_timeout():
    clock = FakeClock()
    breaker = make_breaker(clock=clock)
    open_breaker(breaker)
    clock.advance(301)
    breaker.before_call()
    breaker.record_failure()
    assert breaker.status().state is CircuitState.OPEN
    with pytest.raises(CircuitOpenError) as raised:
        breaker.before_call()
    assert raised.value.retry_after_seconds == 300


def test_a_probe_that_says_nothing_about_the_quota_lets_the_next_caller_probe():
    clock = FakeClock()
    breaker = make_breaker(clock=clock)
    open_breaker(breaker)
    clock.advance(300)
    breaker.before_call()
    breaker.release_probe()
    breaker.before_call()  # not refused
    assert breaker.status().state is CircuitState.HALF_OPEN


def test_a_silent_probe_is_replaced_after_the_timeout():
    clock = FakeClock()
    breaker = make_breaker(clock=clock)
    open_breaker(breaker)
    clock.advance(300)
    breaker.before_call()  # this probe's process dies without reporting
    clock.advance(299)
    with pytest.raises(CircuitOpenError):
        breaker.before_call()
    clock.advance(1)
    breaker.before_call()


def test_breakers_in_two_processes_share_one_circuit(tmp_path):
    clock = FakeClock()
    one = make_breaker(SqliteStateStore(tmp_path / "state.sqlite3"), clock)
    other = make_breaker(SqliteStateStore(tmp_path / "state.sqlite3"), clock)
    for breaker in (one, other, one, other, one):
        breaker.record_failure()
    with pytest.raises(CircuitOpenError):
        other.before_call()


def test_an_open_circuit_becomes_a_step_retry_at_the_breakers_time():
    request = retry_request_for(CircuitOpenError("open", retry_after_seconds=200), max_retries=4)
    assert isinstance(request, dg.RetryRequested)
    assert request.max_retries == 4
    assert 200 <= request.seconds_to_wait <= 220


def test_errors_a_retry_cannot_fix_fail_the_step_once():
    with pytest.raises(dg.Failure) as raised, bedrock_errors_to_dagster():
        raise BedrockRequestError(
            MODEL, "AccessDeniedException", "You don't have access to the model."
        )
    assert raised.value.allow_retries is False
    assert "is the model enabled in this account" in raised.value.description


def test_a_step_that_meets_an_open_circuit_is_retried_by_dagster_and_then_succeeds():
    attempts = []

    @dg.asset(retry_policy=BEDROCK_RETRY_POLICY)
    def draft() -> int:
        attempts.append(1)
        with bedrock_errors_to_dagster():
            if len(attempts) == 1:
                raise CircuitOpenError(
                    "Bedrock quota exhausted; circuit open, retry after 0 s", retry_after_seconds=0
                )
        return len(attempts)

    result = dg.materialize([draft])
    assert result.success
    assert result.output_for_node("draft") == 2
    retries = [
        event
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
    assert len(retries) == 1
