"""Run tracking: one behaviour suite run against SQLite and DynamoDB (moto over HTTP)."""

from __future__ import annotations

import multiprocessing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import boto3
import pytest
from pydantic import ValidationError

from techne_assets.adapters.tracking import (
    VIDEO_INDEX,
    DynamoTracker,
    RunStatus,
    SqliteTracker,
)
from techne_assets.core.errors import InputError
from techne_assets.defs.resources import TrackingResource

TABLE = "techne-tracking-test"
START = datetime(2024, 12, 11, 13, 0, 0, tzinfo=UTC)


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["sqlite", "dynamodb"])
def tracker(request, tmp_path, clock):
    if request.param == "sqlite":
        return SqliteTracker(tmp_path / "state" / "tracking.sqlite3", clock=clock)
    request.getfixturevalue("aws_env")
    dynamo = DynamoTracker(TABLE, clock=clock)
    dynamo.ensure_table()
    return dynamo


def test_start_records_a_new_run(tracker):
    record = tracker.start("run-1", "inbox/Treinamento Configuração 01.mp4", "treinamento-01")

    assert record.status == RunStatus.STARTED
    assert record.started_at == record.updated_at == "2024-12-11T13:00:00.000000+00:00"
    assert record.attempt == 1
    assert record.finished_at is None and record.duration_seconds is None
    assert tracker.get("run-1") == record
    assert tracker.get("run-unknown") is None


def test_progress_then_completion_sets_finish_time_and_duration(tracker, clock):
    tracker.start("run-2", "call.mp4", "call")
    clock.advance(30)
    transcribing = tracker.update(
        "run-2", status=RunStatus.TRANSCRIBING, media_duration_seconds=10_800.5
    )
    assert transcribing.updated_at == "2024-12-11T13:00:30.000000+00:00"
    assert transcribing.finished_at is None

    clock.advance(95.25)
    done = tracker.update(
        "run-2",
        status="COMPLETED",
        input_tokens=45_000,
        output_tokens=12_345,
        cost_usd=0.1,
        document_uris={
            "markdown": "s3://out/call/document.md",
            "html": "s3://out/call/document.html",
        },
    )
    assert done.status == RunStatus.COMPLETED
    assert done.finished_at == "2024-12-11T13:02:05.250000+00:00"
    assert done.duration_seconds == pytest.approx(125.25)

    stored = tracker.get("run-2")
    assert stored == done
    assert stored.cost_usd == 0.1 and isinstance(stored.cost_usd, float)
    assert stored.input_tokens == 45_000 and isinstance(stored.input_tokens, int)
    assert stored.media_duration_seconds == 10_800.5
    assert stored.document_uris["html"] == "s3://out/call/document.html"


def test_failure_records_the_error_and_the_duration(tracker, clock):
    tracker.start("run-3", "call.mp4", "call")
    clock.advance(7)
    failed = tracker.update(
        "run-3", status=RunStatus.FAILED, error="transcript: Transcribe job failed"
    )
    assert failed.error == "transcript: Transcribe job failed"
    assert failed.duration_seconds == pytest.approx(7)
    assert tracker.get("run-3").finished_at == "2024-12-11T13:00:07.000000+00:00"


def test_updates_that_cannot_apply_are_refused(tracker):
    tracker.start("run-4", "call.mp4", "call")
    with pytest.raises(ValueError, match="started_at"):
        tracker.update("run-4", started_at="2020-01-01T00:00:00+00:00")
    with pytest.raises(ValueError, match="colour"):
        tracker.update("run-4", colour="blue")
    with pytest.raises(ValidationError):
        tracker.update("run-4", status="HALF_DONE")
    with pytest.raises(KeyError):
        tracker.update("run-missing", status=RunStatus.WRITING)
    assert tracker.get("run-4").status == RunStatus.STARTED


def test_a_late_started_record_never_replaces_a_final_one(tracker, clock):
    """The started sensor can write after the failure sensor of the same (killed) run."""
    started = tracker.start("run-8", "call.mp4", "call")
    clock.advance(3)
    failed = tracker.update("run-8", status=RunStatus.FAILED, error="run: process killed")
    assert tracker.put_new(started) is False
    assert tracker.get("run-8") == failed
    fresh = started.model_copy(update={"execution_id": "run-9"})
    assert tracker.put_new(fresh) is True
    assert tracker.get("run-9").status == RunStatus.STARTED


def test_a_retry_counts_its_attempt_from_its_parent(tracker, clock):
    tracker.start("run-5", "call.mp4", "call")
    clock.advance(1)
    retry = tracker.start("run-6", "call.mp4", "call", parent_execution_id="run-5")
    clock.advance(1)
    second_retry = tracker.start("run-7", "call.mp4", "call", parent_execution_id="run-6")

    assert (retry.attempt, retry.parent_execution_id) == (2, "run-5")
    assert (second_retry.attempt, second_retry.parent_execution_id) == (3, "run-6")
    assert tracker.get("run-7").attempt == 3


def test_runs_of_a_video_come_newest_first(tracker, clock):
    for index in range(4):
        tracker.start(f"run-a{index}", "turma/aula 1.mp4", "turma-aula-1")
        clock.advance(60)
        tracker.start(f"run-b{index}", "turma/aula 2.mp4", "turma-aula-2")
        clock.advance(60)

    assert [r.execution_id for r in tracker.for_video("turma/aula 1.mp4")] == [
        "run-a3",
        "run-a2",
        "run-a1",
        "run-a0",
    ]
    assert tracker.for_video("never/seen.mp4") == []


# --- each side's specifics ------------------------------------------------------------------


def _start_runs(path: str, worker: int) -> None:
    tracker = SqliteTracker(path)
    for index in range(20):
        tracker.start(f"run-{worker}-{index}", "shared.mp4", "shared")
        tracker.update(f"run-{worker}-{index}", status=RunStatus.COMPLETED, cost_usd=0.01)


def test_sqlite_is_safe_with_several_processes(tmp_path):
    path = str(tmp_path / "tracking.sqlite3")
    SqliteTracker(path)
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_start_runs, args=(path, worker)) for worker in range(4)]
    for process in workers:
        process.start()
    for process in workers:
        process.join(timeout=60)
    assert [process.exitcode for process in workers] == [0, 0, 0, 0]

    runs = SqliteTracker(path).for_video("shared.mp4")
    assert len(runs) == 80
    assert {run.status for run in runs} == {RunStatus.COMPLETED}


def test_dynamo_table_has_the_video_index_and_stores_numbers(aws_env):
    tracker = DynamoTracker(TABLE)
    tracker.ensure_table()
    tracker.ensure_table()  # a second call finds the table and leaves it alone
    tracker.start("run-8", "call.mp4", "call")
    tracker.update("run-8", cost_usd=0.1234, input_tokens=10)

    client = boto3.client("dynamodb")
    table = client.describe_table(TableName=TABLE)["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == VIDEO_INDEX
    assert [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]] == [
        ("video_key", "HASH"),
        ("started_at", "RANGE"),
    ]
    item = client.get_item(TableName=TABLE, Key={"execution_id": {"S": "run-8"}})["Item"]
    assert item["cost_usd"] == {"N": "0.1234"}
    assert item["input_tokens"] == {"N": "10"}
    assert item["status"] == {"S": "STARTED"}


def test_tracking_resource_builds_the_profile_tracker_once(tmp_path, aws_env):
    resource = TrackingResource(state_dir=str(tmp_path / "state"))
    local = resource.get()
    assert resource.get() is local
    assert isinstance(local, SqliteTracker)
    assert local.path == Path(tmp_path / "state" / "tracking.sqlite3")
    assert local.path.exists()

    aws = TrackingResource(profile="aws", tracking_table=TABLE).get()
    assert isinstance(aws, DynamoTracker) and aws.table_name == TABLE

    with pytest.raises(InputError, match="TECHNE_TRACKING_TABLE"):
        TrackingResource(profile="aws").get()
