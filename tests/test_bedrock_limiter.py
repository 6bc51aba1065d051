"""The quota limiter's admission, settlement and waits (fake clock), and the shared state
stores it keeps them in: in-process, SQLite across processes, DynamoDB over HTTP (moto)."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import boto3
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from techne_assets.adapters.bedrock_limiter import (
    CircuitBreaker,
    QuotaLimiter,
    QuotaWaitTimeoutError,
    ReservationTooLargeError,
)
from techne_assets.adapters.bedrock_state import (
    DynamoStateStore,
    InProcessStateStore,
    SqliteStateStore,
)
from techne_assets.testing.clock import FakeClock

MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"


def make_limiter(store=None, clock=None, **options) -> QuotaLimiter:
    clock = clock or FakeClock()
    defaults = {
        "requests_per_minute": 10,
        "tokens_per_minute": 100_000,
        "output_burndown": 5.0,
        "window_seconds": 60.0,
        "safety_seconds": 1.0,
        "poll_seconds": 5.0,
    }
    return QuotaLimiter(
        store or InProcessStateStore(),
        MODEL,
        clock=clock,
        sleep=clock.sleep,
        **{**defaults, **options},
    )


def test_reservation_is_input_plus_max_output_at_the_burndown_rate():
    limiter = make_limiter()
    assert limiter.reservation_tokens(input_tokens=20_000, max_tokens=4_000) == 40_000
    reservation = limiter.acquire(input_tokens=20_000, max_tokens=4_000)
    assert reservation.tokens == 40_000 and reservation.waited_seconds == 0
    assert (limiter.usage().requests, limiter.usage().tokens) == (1, 40_000)


def test_a_call_that_does_not_fit_waits_until_the_oldest_reservation_leaves_the_window():
    clock = FakeClock()
    limiter = make_limiter(clock=clock)
    first = limiter.acquire(input_tokens=20_000, max_tokens=4_000)
    clock.advance(10)
    limiter.acquire(input_tokens=20_000, max_tokens=4_000)
    third = limiter.acquire(input_tokens=20_000, max_tokens=4_000)
    # 3 x 40K > 100K: the third fits once the first has been held for window + safety (61 s).
    assert third.admitted_at == pytest.approx(first.admitted_at + 61)
    assert third.waited_seconds == pytest.approx(51)
    assert max(clock.sleeps) <= 5.0  # waits in small steps


def test_requests_per_minute_bound_admission_too():
    clock = FakeClock()
    limiter = make_limiter(clock=clock, requests_per_minute=2)
    first = limiter.acquire(input_tokens=10, max_tokens=10)
    limiter.acquire(input_tokens=10, max_tokens=10)
    third = limiter.acquire(input_tokens=10, max_tokens=10)
    assert third.admitted_at == pytest.approx(first.admitted_at + 61)


def test_settling_refunds_the_difference_and_frees_room_at_once():
    clock = FakeClock()
    limiter = make_limiter(clock=clock)
    reservation = limiter.acquire(input_tokens=20_000, max_tokens=8_000)  # 60K
    refund = limiter.settle(
        reservation, input_tokens=19_000, cache_write_input_tokens=0, output_tokens=1_000
    )
    assert refund == 60_000 - (19_000 + 5_000)
    assert limiter.usage().tokens == 24_000
    # 24K + 70K fits in 100K only thanks to the refund: admitted without waiting.
    assert limiter.acquire(input_tokens=30_000, max_tokens=8_000).waited_seconds == 0


def test_settling_charges_cache_writes_but_not_cache_reads():
    limiter = make_limiter()
    # The cached prefix is reserved (the service reserves all input at admission) ...
    reservation = limiter.acquire(input_tokens=30_000, max_tokens=1_000)
    assert reservation.tokens == 35_000
    # ... and given back at settlement when it was read from the cache.
    limiter.settle(reservation, input_tokens=200, cache_write_input_tokens=0, output_tokens=500)
    assert limiter.usage().tokens == 200 + 2_500
    writer = limiter.acquire(input_tokens=30_000, max_tokens=1_000)
    limiter.settle(writer, input_tokens=200, cache_write_input_tokens=29_800, output_tokens=500)
    assert limiter.usage().tokens == 2_700 + 30_000 + 2_500


def test_settling_above_the_reservation_charges_the_real_usage():
    limiter = make_limiter()
    reservation = limiter.acquire(input_tokens=1_000, max_tokens=1_000)
    assert (
        limiter.settle(
            reservation, input_tokens=3_000, cache_write_input_tokens=0, output_tokens=1_000
        )
        == -2_000
    )
    assert limiter.usage().tokens == 8_000


def test_release_gives_everything_back():
    limiter = make_limiter()
    reservation = limiter.acquire(input_tokens=20_000, max_tokens=4_000)
    limiter.release(reservation)
    assert (limiter.usage().requests, limiter.usage().tokens) == (0, 0)


def test_a_call_larger_than_the_quota_fails_at_once():
    clock = FakeClock()
    limiter = make_limiter(clock=clock)
    with pytest.raises(
        ReservationTooLargeError, match=r"reserving 140000 quota tokens .* 100000 tokens/min"
    ):
        limiter.acquire(input_tokens=100_000, max_tokens=8_000)
    assert clock.sleeps == []


def test_waiting_longer_than_the_maximum_fails_clearly():
    clock = FakeClock()
    limiter = make_limiter(clock=clock, max_wait_seconds=30)
    limiter.acquire(input_tokens=50_000, max_tokens=8_000)
    with pytest.raises(QuotaWaitTimeoutError, match="the limit is 30 s"):
        limiter.acquire(input_tokens=50_000, max_tokens=8_000)
    assert sum(clock.sleeps) <= 30


def test_limiters_on_one_store_share_the_quota():
    clock = FakeClock()
    store = InProcessStateStore()
    one, other = make_limiter(store, clock), make_limiter(store, clock)
    one.acquire(input_tokens=40_000, max_tokens=8_000)  # 80K
    assert other.acquire(input_tokens=10_000, max_tokens=4_000).waited_seconds == pytest.approx(61)


@settings(max_examples=60, deadline=None)
@given(
    calls=st.lists(
        st.tuples(
            st.integers(0, 40_000),  # input tokens
            st.integers(1, 8_000),  # max tokens
            st.floats(0, 30),  # seconds before the call
            st.floats(0, 1),  # share of max tokens really produced
        ),
        min_size=1,
        max_size=25,
    )
)
def test_no_window_ever_holds_more_than_the_quota(calls):
    clock = FakeClock()
    limiter = make_limiter(clock=clock, tokens_per_minute=100_000, requests_per_minute=4)
    settled = []  # (admitted at, quota tokens the call finally held)
    for input_tokens, max_tokens, gap, produced in calls:
        clock.advance(gap)
        reservation = limiter.acquire(input_tokens=input_tokens, max_tokens=max_tokens)
        earlier = [tokens for at, tokens in settled if at > reservation.admitted_at - 60]
        assert sum(earlier) + reservation.tokens <= 100_000
        assert len(earlier) + 1 <= 4
        output_tokens = int(max_tokens * produced)
        limiter.settle(
            reservation,
            input_tokens=input_tokens,
            cache_write_input_tokens=0,
            output_tokens=output_tokens,
        )
        settled.append((reservation.admitted_at, input_tokens + 5 * output_tokens))


def counter_increments(store, key: str, times: int) -> None:
    for _ in range(times):
        store.update(key, lambda state: ({**state, "count": state.get("count", 0) + 1}, None))


def race(stores, key: str, times: int) -> None:
    threads = [
        threading.Thread(target=counter_increments, args=(store, key, times)) for store in stores
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def read_count(store, key: str) -> int:
    return store.update(key, lambda state: (state, state.get("count", 0)))


def test_sqlite_store_loses_no_update_under_racing_writers(tmp_path):
    path = tmp_path / "state.sqlite3"
    stores = [SqliteStateStore(path) for _ in range(4)]
    race(stores, "m", 50)
    assert read_count(SqliteStateStore(path), "m") == 200


def test_sqlite_store_leaves_the_state_unchanged_when_the_mutation_raises(tmp_path):
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    counter_increments(store, "m", 1)

    def broken(state):
        raise RuntimeError("no")

    with pytest.raises(RuntimeError):
        store.update("m", broken)
    assert read_count(store, "m") == 1


def test_limiters_on_one_sqlite_file_share_the_quota(tmp_path):
    clock = FakeClock()
    one = make_limiter(SqliteStateStore(tmp_path / "s.sqlite3"), clock)
    other = make_limiter(SqliteStateStore(tmp_path / "s.sqlite3"), clock)
    one.acquire(input_tokens=40_000, max_tokens=8_000)
    assert other.usage().tokens == 80_000
    assert other.acquire(input_tokens=10_000, max_tokens=4_000).waited_seconds == pytest.approx(61)


@pytest.fixture
def state_table(aws_env):
    client = boto3.client("dynamodb")
    client.create_table(
        TableName="techne-bedrock-state",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "techne-bedrock-state"


def test_dynamo_store_loses_no_update_when_two_stores_race(state_table):
    # Two stores with their own clients, as two ECS tasks would have.
    stores = [DynamoStateStore(state_table), DynamoStateStore(state_table)]
    race(stores, MODEL, 25)
    assert read_count(DynamoStateStore(state_table), MODEL) == 50
    item = boto3.client("dynamodb").get_item(TableName=state_table, Key={"pk": {"S": MODEL}})[
        "Item"
    ]
    # Every write bumped the version: 50 increments; the read above wrote nothing.
    assert int(item["version"]["N"]) == 50


def test_limiters_on_one_dynamo_table_share_the_quota(state_table):
    clock = FakeClock()
    one = make_limiter(DynamoStateStore(state_table), clock)
    other = make_limiter(DynamoStateStore(state_table), clock)
    reservation = one.acquire(input_tokens=40_000, max_tokens=8_000)
    one.settle(reservation, input_tokens=40_000, cache_write_input_tokens=0, output_tokens=2_000)
    assert other.usage().tokens == 50_000
    assert other.acquire(input_tokens=40_000, max_tokens=2_000).waited_seconds == 0
    assert other.acquire(input_tokens=10_000, max_tokens=1_000).waited_seconds == pytest.approx(61)


def count_writes(client) -> list[str]:
    """Names of the DynamoDB write operations the client sends (hooked into botocore's events)."""
    writes: list[str] = []
    for operation in ("PutItem", "UpdateItem", "DeleteItem"):
        client.meta.events.register(
            f"before-call.dynamodb.{operation}", lambda model, **_: writes.append(model.name)
        )
    return writes


def test_waits_and_reads_do_not_write_the_dynamo_item(state_table):
    client = boto3.client("dynamodb")
    writes = count_writes(client)
    clock = FakeClock()
    store = DynamoStateStore(state_table, client=client, clock=clock)
    limiter = make_limiter(store, clock, requests_per_minute=2, poll_seconds=1.0)
    breaker = CircuitBreaker(store, MODEL, clock=clock)
    breaker.before_call()
    limiter.acquire(input_tokens=100, max_tokens=100)
    limiter.acquire(input_tokens=100, max_tokens=100)
    assert writes == ["PutItem", "PutItem"]  # two admissions; the closed breaker wrote nothing
    # The third call waits 61 s, polling every second: only its admission writes.
    assert limiter.acquire(input_tokens=100, max_tokens=100).waited_seconds == pytest.approx(61)
    assert writes == ["PutItem"] * 3
    limiter.usage(), breaker.status(), store.read(MODEL)
    breaker.record_success()  # already closed with no failures: nothing changes
    assert writes == ["PutItem"] * 3


def test_every_dynamo_write_pushes_the_ttl_attribute_forward(state_table):
    clock = FakeClock()
    store = DynamoStateStore(state_table, clock=clock, ttl_seconds=3600)
    limiter = make_limiter(store, clock)
    limiter.acquire(input_tokens=100, max_tokens=100)
    first = boto3.client("dynamodb").get_item(TableName=state_table, Key={"pk": {"S": MODEL}})["Item"]
    clock.sleep(120)
    limiter.acquire(input_tokens=100, max_tokens=100)
    second = boto3.client("dynamodb").get_item(TableName=state_table, Key={"pk": {"S": MODEL}})["Item"]
    assert int(first["expires_at"]["N"]) == int(clock() - 120) + 3600
    assert int(second["expires_at"]["N"]) == int(first["expires_at"]["N"]) + 120


def test_the_template_expires_the_attribute_the_store_writes():
    from techne_assets.adapters.bedrock_state import DynamoStateStore as Store  # noqa: F401

    template = (Path(__file__).resolve().parents[1] / "infra" / "template.yaml").read_text()
    table = template[template.index("  BedrockStateTable:"):]
    table = table[: table.index("\n  # ")]
    assert "TimeToLiveSpecification:\n        AttributeName: expires_at\n        Enabled: true" in table


def test_a_sqlite_wait_leaves_the_file_unwritten(tmp_path):
    clock = FakeClock()
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    limiter = make_limiter(store, clock, requests_per_minute=1, poll_seconds=1.0)
    limiter.acquire(input_tokens=100, max_tokens=100)
    probe = sqlite3.connect(tmp_path / "state.sqlite3")
    before = probe.execute("PRAGMA data_version").fetchone()[0]
    polls: list[float] = []

    def sleep_and_check(seconds: float) -> None:
        polls.append(seconds)
        # data_version changes when another connection commits a write.
        assert probe.execute("PRAGMA data_version").fetchone()[0] == before
        clock.sleep(seconds)

    limiter._sleep = sleep_and_check
    limiter.acquire(input_tokens=100, max_tokens=100)
    assert len(polls) >= 60


def test_ctrl_c_during_a_quota_wait_ends_it_at_once_and_holds_no_quota(tmp_path):
    """KeyboardInterrupt (Ctrl-C; SIGTERM handlers raise the same way) inside the wait's sleep
    propagates at once; the waiting call never reserved anything, so the quota stays as it was."""
    clock = FakeClock()
    store = SqliteStateStore(tmp_path / "state.sqlite3")
    limiter = make_limiter(store, clock, requests_per_minute=1, poll_seconds=1.0)
    limiter.acquire(input_tokens=100, max_tokens=100)
    slept: list[float] = []

    def interrupted(seconds: float) -> None:
        slept.append(seconds)
        raise KeyboardInterrupt

    limiter._sleep = interrupted
    with pytest.raises(KeyboardInterrupt):
        limiter.acquire(input_tokens=100, max_tokens=100)
    assert slept == [1.0]
    assert limiter.usage().requests == 1  # only the call admitted before the wait
