"""Run tracking: one record per Dagster run of a video, in a SQLite file or a DynamoDB table.

Both sides take a `clock` so tests control time; timestamps are ISO-8601 UTC strings with
microseconds, one fixed format so they sort as text (the DynamoDB index sorts on them).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from techne_assets.core.errors import InputError

Clock = Callable[[], datetime]
VIDEO_INDEX = "video_key-index"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


class RunStatus(StrEnum):
    STARTED = "STARTED"
    TRANSCRIBING = "TRANSCRIBING"
    WRITING = "WRITING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"


FINAL_STATUSES = frozenset({RunStatus.COMPLETED, RunStatus.FAILED})


class RunRecord(BaseModel):
    execution_id: str = Field(
        description="the Dagster run id; `<run id>/<partition key>` for one video of a failed ranged run"
    )
    video_key: str
    partition_key: str
    status: RunStatus = RunStatus.STARTED
    started_at: str
    updated_at: str
    finished_at: str | None = None
    duration_seconds: float | None = None
    media_duration_seconds: float | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    document_uris: dict[str, str] = Field(default_factory=dict)
    error: str | None = None
    attempt: int = 1
    parent_execution_id: str | None = Field(default=None, description="the run this one retries")
    writer_mode: str | None = Field(
        default=None, description="how the draft was written: batch (Bedrock batch inference) or on-demand"
    )


_UPDATABLE = frozenset(RunRecord.model_fields) - {"execution_id", "started_at", "updated_at"}


class Tracker(Protocol):
    def start(
        self,
        execution_id: str,
        video_key: str,
        partition_key: str,
        parent_execution_id: str | None = None,
    ) -> RunRecord:
        """Records a new run; a retry (with a parent) gets the parent's attempt + 1."""
        ...

    def update(self, execution_id: str, **fields: Any) -> RunRecord:
        """Sets fields and updated_at; COMPLETED/FAILED also set finished_at, duration_seconds."""
        ...

    def put(self, record: RunRecord) -> RunRecord:
        """Writes a whole record (the run-status sensors build it from the run's own events)."""
        ...

    def put_new(self, record: RunRecord) -> bool:
        """Writes `record` only if its run has no record yet, atomically; False if it had one.
        The started sensor may run after (or alongside) a final sensor of the same run: its
        STARTED record must never replace a FAILED or COMPLETED one."""
        ...

    def get(self, execution_id: str) -> RunRecord | None: ...

    def for_video(self, video_key: str) -> list[RunRecord]:
        """Every run of a video, newest first."""
        ...


def _new_record(
    tracker: Tracker,
    now: datetime,
    execution_id: str,
    video_key: str,
    partition_key: str,
    parent_execution_id: str | None,
) -> RunRecord:
    parent = tracker.get(parent_execution_id) if parent_execution_id else None
    return RunRecord(
        execution_id=execution_id,
        video_key=video_key,
        partition_key=partition_key,
        started_at=_iso(now),
        updated_at=_iso(now),
        attempt=parent.attempt + 1 if parent else 1,
        parent_execution_id=parent_execution_id,
    )


def _changes(record: RunRecord, now: datetime, fields: dict[str, Any]) -> dict[str, Any]:
    """The validated field values an update writes, including the derived timestamps."""
    unknown = set(fields) - _UPDATABLE
    if unknown:
        raise ValueError(f"cannot update run fields {sorted(unknown)}")
    updated = RunRecord.model_validate(record.model_dump() | fields)
    changes = {name: getattr(updated, name) for name in fields} | {"updated_at": _iso(now)}
    if "status" in fields and updated.status in FINAL_STATUSES:
        changes["finished_at"] = _iso(now)
        changes["duration_seconds"] = round(
            (now - datetime.fromisoformat(record.started_at)).total_seconds(), 6
        )
    return changes


class SqliteTracker:
    """A SQLite file in WAL mode; a connection per call, so several processes can share it."""

    def __init__(self, path: Path | str, clock: Clock = utc_now):
        self.path = Path(path)
        self._clock = clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._transaction() as connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS runs ("
                " execution_id TEXT PRIMARY KEY, video_key TEXT NOT NULL,"
                " started_at TEXT NOT NULL, record TEXT NOT NULL)"
            )
            connection.execute(
                "CREATE INDEX IF NOT EXISTS runs_by_video ON runs (video_key, started_at)"
            )

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        with closing(sqlite3.connect(self.path, timeout=30, isolation_level=None)) as connection:
            connection.execute("PRAGMA journal_mode=WAL")
            yield connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # BEGIN IMMEDIATE takes the write lock up front, so read-modify-write cannot interleave.
        with self._connection() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield connection
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

    def _save(self, connection: sqlite3.Connection, record: RunRecord) -> None:
        connection.execute(
            "INSERT OR REPLACE INTO runs (execution_id, video_key, started_at, record)"
            " VALUES (?, ?, ?, ?)",
            (record.execution_id, record.video_key, record.started_at, record.model_dump_json()),
        )

    def start(
        self,
        execution_id: str,
        video_key: str,
        partition_key: str,
        parent_execution_id: str | None = None,
    ) -> RunRecord:
        record = _new_record(
            self, self._clock(), execution_id, video_key, partition_key, parent_execution_id
        )
        with self._transaction() as connection:
            self._save(connection, record)
        return record

    def update(self, execution_id: str, **fields: Any) -> RunRecord:
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT record FROM runs WHERE execution_id = ?", (execution_id,)
            ).fetchone()
            if row is None:
                raise KeyError(f"no tracked run {execution_id!r}")
            record = RunRecord.model_validate_json(row[0])
            record = record.model_copy(update=_changes(record, self._clock(), fields))
            self._save(connection, record)
        return record

    def put(self, record: RunRecord) -> RunRecord:
        with self._transaction() as connection:
            self._save(connection, record)
        return record

    def put_new(self, record: RunRecord) -> bool:
        with self._transaction() as connection:
            cursor = connection.execute(
                "INSERT OR IGNORE INTO runs (execution_id, video_key, started_at, record)"
                " VALUES (?, ?, ?, ?)",
                (record.execution_id, record.video_key, record.started_at, record.model_dump_json()),
            )
        return cursor.rowcount == 1

    def get(self, execution_id: str) -> RunRecord | None:
        with self._connection() as connection:
            row = connection.execute(
                "SELECT record FROM runs WHERE execution_id = ?", (execution_id,)
            ).fetchone()
        return RunRecord.model_validate_json(row[0]) if row else None

    def for_video(self, video_key: str) -> list[RunRecord]:
        with self._connection() as connection:
            rows = connection.execute(
                "SELECT record FROM runs WHERE video_key = ? ORDER BY started_at DESC", (video_key,)
            ).fetchall()
        return [RunRecord.model_validate_json(row[0]) for row in rows]


def _to_dynamo(value: Any) -> Any:
    # DynamoDB takes numbers only as Decimal; going through str keeps 0.1 as 0.1.
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {key: _to_dynamo(item) for key, item in value.items()}
    return value


def _from_dynamo(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _from_dynamo(item) for key, item in value.items()}
    return value


class DynamoTracker:
    """A DynamoDB table keyed by execution_id; GSI `video_key-index` on (video_key, started_at).

    `for_video` reads the index, which is eventually consistent: a run started a moment ago
    may take a little while to appear there (`get` is strongly consistent).
    """

    def __init__(self, table_name: str, clock: Clock = utc_now, region: str | None = None):
        self.table_name = table_name
        self._clock = clock
        self.region = region

    @cached_property
    def _table(self):
        return boto3.resource("dynamodb", region_name=self.region).Table(self.table_name)

    def ensure_table(self) -> None:
        """Creates the table and its index (on-demand billing) if missing; for tests and dev."""
        client = self._table.meta.client
        try:
            client.create_table(
                TableName=self.table_name,
                BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[
                    {"AttributeName": "execution_id", "AttributeType": "S"},
                    {"AttributeName": "video_key", "AttributeType": "S"},
                    {"AttributeName": "started_at", "AttributeType": "S"},
                ],
                KeySchema=[{"AttributeName": "execution_id", "KeyType": "HASH"}],
                GlobalSecondaryIndexes=[
                    {
                        "IndexName": VIDEO_INDEX,
                        "KeySchema": [
                            {"AttributeName": "video_key", "KeyType": "HASH"},
                            {"AttributeName": "started_at", "KeyType": "RANGE"},
                        ],
                        "Projection": {"ProjectionType": "ALL"},
                    }
                ],
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ResourceInUseException":
                raise
        client.get_waiter("table_exists").wait(TableName=self.table_name)

    def start(
        self,
        execution_id: str,
        video_key: str,
        partition_key: str,
        parent_execution_id: str | None = None,
    ) -> RunRecord:
        record = _new_record(
            self, self._clock(), execution_id, video_key, partition_key, parent_execution_id
        )
        self._table.put_item(Item=_to_dynamo(record.model_dump(mode="json")))
        return record

    def update(self, execution_id: str, **fields: Any) -> RunRecord:
        record = self.get(execution_id)
        if record is None:
            raise KeyError(f"no tracked run {execution_id!r}")
        changes = _changes(record, self._clock(), fields)
        values = RunRecord.model_validate(record.model_dump() | changes).model_dump(mode="json")
        placeholders = {f"#f{index}": name for index, name in enumerate(changes)}
        response = self._table.update_item(
            Key={"execution_id": execution_id},
            # SET only the changed attributes, so concurrent updates of other fields are kept.
            UpdateExpression="SET "
            + ", ".join(f"{alias} = :{alias[1:]}" for alias in placeholders),
            ExpressionAttributeNames=placeholders,
            ExpressionAttributeValues={
                f":{alias[1:]}": _to_dynamo(values[name]) for alias, name in placeholders.items()
            },
            ConditionExpression="attribute_exists(execution_id)",
            ReturnValues="ALL_NEW",
        )
        return RunRecord.model_validate(_from_dynamo(response["Attributes"]))

    def put(self, record: RunRecord) -> RunRecord:
        self._table.put_item(Item=_to_dynamo(record.model_dump(mode="json")))
        return record

    def put_new(self, record: RunRecord) -> bool:
        try:
            self._table.put_item(
                Item=_to_dynamo(record.model_dump(mode="json")),
                ConditionExpression="attribute_not_exists(execution_id)",
            )
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def get(self, execution_id: str) -> RunRecord | None:
        item = self._table.get_item(Key={"execution_id": execution_id}, ConsistentRead=True).get(
            "Item"
        )
        return RunRecord.model_validate(_from_dynamo(item)) if item else None

    def for_video(self, video_key: str) -> list[RunRecord]:
        records: list[RunRecord] = []
        arguments: dict[str, Any] = {
            "IndexName": VIDEO_INDEX,
            "KeyConditionExpression": "video_key = :video_key",
            "ExpressionAttributeValues": {":video_key": video_key},
            "ScanIndexForward": False,
        }
        while True:
            page = self._table.query(**arguments)
            records.extend(RunRecord.model_validate(_from_dynamo(item)) for item in page["Items"])
            if "LastEvaluatedKey" not in page:
                return records
            arguments["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def tracker_for(
    profile: str, state_dir: str, tracking_table: str | None, region: str | None = None
) -> Tracker:
    """aws: the DynamoDB table `tracking_table`; local: `tracking.sqlite3` in `state_dir`."""
    if profile == "aws":
        if not tracking_table:
            raise InputError(
                "TECHNE_TRACKING_TABLE", "the aws profile needs the DynamoDB tracking table"
            )
        return DynamoTracker(tracking_table, region=region)
    return SqliteTracker(Path(state_dir) / "tracking.sqlite3")
