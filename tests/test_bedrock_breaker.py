"""The circuit breaker's transitions (fake clock), its sharing across processes, and how an
open circuit reaches Dagster."""


import dagster as dg
import pytest
from botocore.exceptions import NoCredentialsError, NoRegionError

from techne_assets.adapters.bedrock import BedrockRequestError
from techne_assets.adapters.bedrock_limiter import CircuitBreaker, CircuitOpenError, CircuitState
from techne_assets.adapters.bedrock_state import InProcessStateStore, SqliteStateStore
from techne_assets.defs.bedrock_resource import (
    BedrockResource,
    bedrock_errors_to_dagster,
    retry_request_for,
)
from techne_assets.settings import Settings
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


def test_an_open_circuit_becomes_a_step_retry_at_the_breakers_time(caplog):
    with caplog.at_level("WARNING", logger="techne_assets.quota_waits"):
        request = retry_request_for(CircuitOpenError("open", retry_after_seconds=200),
                                    retry_number=1, max_retries=3, wait_seconds=300, model_id=MODEL)
    assert isinstance(request, dg.RetryRequested)
    assert request.max_retries == 3
    assert 200 <= request.seconds_to_wait <= 220
    (line,) = [record.getMessage() for record in caplog.records]
    assert line.startswith("cota do Bedrock esgotada (circuito aberto): nova tentativa em ")
    assert line.endswith(" s, 2/3")


def test_the_last_wait_ends_in_one_line_that_names_the_quota():
    final = retry_request_for(CircuitOpenError("circuit open", retry_after_seconds=300),
                              retry_number=3, max_retries=3, wait_seconds=300, model_id=MODEL)
    assert isinstance(final, dg.Failure) and final.allow_retries is False
    assert "cota do Bedrock esgotada" in final.description and MODEL in final.description
    assert "TECHNE_QUOTA_WAIT_MAX_SECONDS" in final.description and "900 s" in final.description
    assert "\n" not in final.description


def test_the_total_quota_wait_is_bounded_by_the_setting():
    assert BedrockResource(model_id=MODEL).quota_max_retries == 3  # 900 s / 300 s
    assert BedrockResource(model_id=MODEL, breaker_timeout_seconds=120,
                           quota_wait_max_seconds=600).quota_max_retries == 5
    assert BedrockResource(model_id=MODEL, quota_wait_max_seconds=0).quota_max_retries == 1
    # One default for the output budget: the resource's is the setting's.
    assert BedrockResource(model_id=MODEL).max_output_tokens == Settings().bedrock_max_output_tokens


def _materialize_raising(error: Exception, bedrock: BedrockResource) -> tuple[dg.ExecuteInProcessResult, list]:
    attempts = []

    @dg.asset
    def draft(context: dg.AssetExecutionContext, bedrock: BedrockResource) -> int:
        attempts.append(context.retry_number)
        with bedrock_errors_to_dagster(context, bedrock):
            raise error
        return 0

    return dg.materialize([draft], resources={"bedrock": bedrock}, raise_on_error=False), attempts


def _failure_description(result: dg.ExecuteInProcessResult) -> str:
    (failure,) = [e for e in result.all_events if e.is_step_failure]
    return failure.step_failure_data.user_failure_data.description


@pytest.mark.parametrize(
    ("error", "setting"),
    [
        (BedrockRequestError(MODEL, "AccessDeniedException", "You don't have access to the model."),
         "TECHNE_BEDROCK_MODEL_ID"),
        (BedrockRequestError(MODEL, "ResourceNotFoundException", "Model not found."), "TECHNE_BEDROCK_MODEL_ID"),
        (NoRegionError(), "AWS_REGION"),
        (NoCredentialsError(), "AWS credentials"),
    ],
)
def test_configuration_errors_fail_the_step_once_naming_the_setting(error, setting):
    result, attempts = _materialize_raising(error, BedrockResource(model_id=MODEL))
    assert not result.success and attempts == [0]
    description = _failure_description(result)
    assert description.startswith(f"{setting}: ") and "\n" not in description


def test_a_throttle_storm_waits_at_the_breakers_time_then_fails_naming_the_quota(caplog):
    """Every attempt meets an open circuit: 3 waits (3 s of a 3 s budget), then one final line."""
    bedrock = BedrockResource(model_id=MODEL, breaker_timeout_seconds=1, quota_wait_max_seconds=3)
    with caplog.at_level("WARNING", logger="techne_assets.quota_waits"):
        result, attempts = _materialize_raising(
            CircuitOpenError("Bedrock quota exhausted; circuit open", retry_after_seconds=1), bedrock
        )
    assert not result.success and attempts == [0, 1, 2, 3]
    waits = [r.getMessage() for r in caplog.records if r.name == "techne_assets.quota_waits"]
    assert [w.rsplit(" ", 1)[1] for w in waits] == ["1/3", "2/3", "3/3"]
    description = _failure_description(result)
    assert "cota do Bedrock esgotada" in description and "TECHNE_QUOTA_WAIT_MAX_SECONDS" in description


def test_a_step_that_meets_an_open_circuit_is_retried_by_dagster_and_then_succeeds():
    attempts = []

    @dg.asset
    def draft(context: dg.AssetExecutionContext, bedrock: BedrockResource) -> int:
        attempts.append(1)
        with bedrock_errors_to_dagster(context, bedrock):
            if len(attempts) == 1:
                raise CircuitOpenError(
                    "Bedrock quota exhausted; circuit open, retry after 0 s", retry_after_seconds=0
                )
        return len(attempts)

    result = dg.materialize([draft], resources={"bedrock": BedrockResource(model_id=MODEL)})
    assert result.success
    assert result.output_for_node("draft") == 2
    retries = [
        event
        for event in result.all_events
        if event.event_type == dg.DagsterEventType.STEP_UP_FOR_RETRY
    ]
    assert len(retries) == 1
