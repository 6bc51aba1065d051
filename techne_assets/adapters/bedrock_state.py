"""Shared state for the Bedrock quota limiter and circuit breaker.

Every process that calls Bedrock for the same model must see the same quota and the same
breaker, or each would believe it has the whole quota to itself. A store keeps one JSON
document per key (the model id) and offers one operation: an atomic read-modify-write.

- `InProcessStateStore`: a dict and a lock; threads of one process only (tests, notebooks).
- `SqliteStateStore`: a SQLite file in the local state folder; `BEGIN IMMEDIATE` takes the
  database's write lock, so it is shared by every process on the machine. This is the local
  profile's store, because `dagster dev` runs each run in a process of its own.
- `DynamoStateStore`: one DynamoDB item per key with a version attribute; writes are
  conditional on the version read (optimistic concurrency) and retried on conflict, so
  parallel ECS tasks share the state.

The mutation passed to `update` may run more than once (on a write conflict), so it must be
a pure function of the state it is given. A mutation that returns the state unchanged writes
nothing (a limiter waiting for room polls without writing), and `read` never writes. DynamoDB
items carry `expires_at` (epoch seconds, the table's TTL attribute), pushed forward by every
write: the state of a model nobody calls any more is removed by DynamoDB itself.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import boto3
from botocore.exceptions import ClientError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random

State = dict[str, Any]
# Limiter windows are a minute and breaker timeouts minutes: a day-old state is of no use.
DEFAULT_TTL_SECONDS = 24 * 3600
Result = TypeVar("Result")
Mutation = Callable[[State], tuple[State, Result]]


class SharedStateStore(Protocol):
    def update(self, key: str, mutate: Mutation[Result]) -> Result:
        """Atomically replace the state under `key` by `mutate(state)[0]`; return `mutate(state)[1]`.

        A key never written reads as an empty dict; an unchanged state is not written."""
        ...

    def read(self, key: str) -> State:
        """The state under `key` (an empty dict if never written), without writing."""
        ...


class InProcessStateStore:
    """State shared by the threads of one process."""

    def __init__(self) -> None:
        self._states: dict[str, State] = {}
        self._lock = threading.Lock()

    def update(self, key: str, mutate: Mutation[Result]) -> Result:
        with self._lock:
            # A copy, so a mutation that raises leaves the stored state untouched.
            new_state, result = mutate(copy.deepcopy(self._states.get(key, {})))
            self._states[key] = new_state
            return result

    def read(self, key: str) -> State:
        with self._lock:
            return copy.deepcopy(self._states.get(key, {}))


class SqliteStateStore:
    """State shared by the processes of one machine, in a SQLite file."""

    def __init__(self, path: str | Path, *, busy_timeout_seconds: float = 60.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._busy_timeout_seconds = busy_timeout_seconds
        # One connection per thread, kept open: SQLite connections are not shared across
        # threads, and reopening would rebuild the write-ahead log on every update.
        self._local = threading.local()
        self._connection().execute(
            "CREATE TABLE IF NOT EXISTS shared_state (key TEXT PRIMARY KEY, state TEXT NOT NULL)"
        )

    def _connection(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # isolation_level=None: transactions are opened explicitly with BEGIN IMMEDIATE.
            connection = sqlite3.connect(
                self.path, timeout=self._busy_timeout_seconds, isolation_level=None
            )
            # WAL with synchronous=NORMAL commits without an fsync each time (the state changes
            # on every call; losing the last write on a power cut costs nothing).
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            self._local.connection = connection
        return connection

    def update(self, key: str, mutate: Mutation[Result]) -> Result:
        connection = self._connection()
        # IMMEDIATE takes the write lock before reading, so no other process can
        # read-modify-write the same state in between.
        connection.execute("BEGIN IMMEDIATE")
        try:
            row = connection.execute(
                "SELECT state FROM shared_state WHERE key = ?", (key,)
            ).fetchone()
            stored = json.loads(row[0]) if row else {}
            new_state, result = mutate(json.loads(row[0]) if row else {})
            if new_state == stored:
                connection.execute("ROLLBACK")
                return result
            connection.execute(
                "INSERT INTO shared_state (key, state) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET state = excluded.state",
                (key, json.dumps(new_state)),
            )
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        connection.execute("COMMIT")
        return result

    def read(self, key: str) -> State:
        row = self._connection().execute(
            "SELECT state FROM shared_state WHERE key = ?", (key,)
        ).fetchone()
        return json.loads(row[0]) if row else {}


class StateWriteConflict(Exception):
    """Another writer changed the item between our read and our conditional write."""


def _is_conflict(error: BaseException) -> bool:
    return isinstance(error, StateWriteConflict)


class DynamoStateStore:
    """State shared by every task in the account, in a DynamoDB table.

    Table schema: partition key `pk` (string). Each item holds `state` (a JSON string, so
    floats need no Decimal conversion), `version` (a number bumped on every write) and
    `expires_at` (the TTL attribute, `ttl_seconds` after the last write).
    """

    def __init__(
        self,
        table_name: str,
        *,
        client: Any | None = None,
        region: str | None = None,
        max_conflict_retries: int = 100,
        ttl_seconds: int = DEFAULT_TTL_SECONDS,
        clock: Callable[[], float] = time.time,
    ):
        self.table_name = table_name
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._client = client or boto3.client("dynamodb", region_name=region)
        self._retrying = Retrying(
            retry=retry_if_exception(_is_conflict),
            stop=stop_after_attempt(max_conflict_retries),
            # Random spread so racing writers do not collide again in lockstep.
            wait=wait_random(0, 0.05),
            reraise=True,
        )

    def update(self, key: str, mutate: Mutation[Result]) -> Result:
        return self._retrying(self._update_once, key, mutate)

    def read(self, key: str) -> State:
        item = self._get(key)
        return json.loads(item["state"]["S"]) if item else {}

    def _get(self, key: str) -> dict[str, Any] | None:
        return self._client.get_item(
            TableName=self.table_name, Key={"pk": {"S": key}}, ConsistentRead=True
        ).get("Item")

    def _update_once(self, key: str, mutate: Mutation[Result]) -> Result:
        item = self._get(key)
        version = int(item["version"]["N"]) if item else 0
        stored = json.loads(item["state"]["S"]) if item else {}
        new_state, result = mutate(json.loads(item["state"]["S"]) if item else {})
        if new_state == stored:
            return result
        try:
            self._client.put_item(
                TableName=self.table_name,
                Item={
                    "pk": {"S": key},
                    "state": {"S": json.dumps(new_state)},
                    "version": {"N": str(version + 1)},
                    "expires_at": {"N": str(int(self._clock()) + self.ttl_seconds)},
                },
                ConditionExpression="attribute_not_exists(pk) OR version = :read_version",
                ExpressionAttributeValues={":read_version": {"N": str(version)}},
            )
        except ClientError as error:
            if error.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise StateWriteConflict(key) from error
            raise
        return result


def open_state_store(
    *, state_table: str | None, state_dir: str | Path, region: str | None = None
) -> SharedStateStore:
    """The DynamoDB store when a table is configured (aws), else the SQLite file in `state_dir`."""
    if state_table:
        return DynamoStateStore(state_table, region=region)
    return SqliteStateStore(Path(state_dir) / "bedrock_state.sqlite3")
