"""One model invocation job of the batch stand-in (testing/batch_service.py): its records, its
statuses over simulated time, and what it has answered so far.

Timeline, in shares of the service's turnaround: Submitted, then Validating from
`SUBMITTED_SHARE`, then InProgress from `VALIDATED_SHARE` with records answered at an even
pace until the end, then Completed (PartiallyCompleted when some records errored). A stop
takes `STOPPING_SHARE` to take effect (Stopping → Stopped); a job still running at its
timeout is Expired; both keep the output of what they answered. A failing job fails at the
end of validation, without output.
"""

from __future__ import annotations

import json
import math
import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

SUBMITTED_SHARE = 0.05
VALIDATED_SHARE = 0.1
STOPPING_SHARE = 0.02
STOPPABLE_STATUSES = frozenset({"Submitted", "Validating", "Scheduled", "InProgress"})
_RECORD_ID = re.compile(r"[A-Za-z0-9]{1,64}")


class ServiceError(Exception):
    """An error answer of the control plane: HTTP status, error type and message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


@dataclass
class JobRecord:
    record_id: str
    model_input: dict[str, Any]
    file_name: str


def parse_input_file(file_name: str, text: str, rng: random.Random) -> list[JobRecord]:
    """The records of one input JSONL file; a line that is not a record refuses the job."""
    records = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
            model_input = line["modelInput"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise ServiceError(
                400, "ValidationException", f"{file_name} line {number} is not a valid record"
            ) from None
        # Like the service: a record without an id gets one.
        record_id = str(
            line.get("recordId")
            or "".join(rng.choices(string.ascii_uppercase + string.digits, k=11))
        )
        if not _RECORD_ID.fullmatch(record_id):
            raise ServiceError(
                400,
                "ValidationException",
                f"{file_name} line {number}: invalid recordId {record_id!r}",
            )
        records.append(JobRecord(record_id, model_input, file_name))
    return records


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class SimulatedJob:
    arn: str
    name: str
    model_id: str
    role_arn: str
    invocation_type: str
    input_uri: str
    output_uri: str
    token: str | None
    timeout_hours: int
    records: list[JobRecord]
    submitted_clock: float
    submitted_wall: datetime
    fail: bool = False
    stop_after: int | None = None
    status: str = "Submitted"
    message: str | None = None
    stop_requested_at: float | None = None  # simulated seconds since submission
    ended_at: float | None = None
    output_pending: bool = False  # ended with output the service has not written yet
    outputs: list[dict[str, Any]] = field(default_factory=list)  # in processing order
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def job_id(self) -> str:
        return self.arn.rsplit("/", 1)[1]

    @property
    def errors(self) -> int:
        return sum(1 for line in self.outputs if "error" in line)

    def request_stop(self, elapsed: float) -> None:
        if self.status not in STOPPABLE_STATUSES:
            raise ServiceError(
                400,
                "ConflictException",
                f"job {self.job_id} is {self.status} and cannot be stopped",
            )
        self.status, self.stop_requested_at = "Stopping", elapsed

    def advance(
        self, elapsed: float, turnaround: float, answer: Callable[[JobRecord, int], dict[str, Any]]
    ) -> None:
        """Moves the job to `elapsed` simulated seconds; `answer(record, number)` gives the
        output line of the `number`-th record (1-based) as it is processed."""
        if self.ended_at is not None:
            return
        if self.stop_requested_at is not None:
            stopped_at = self.stop_requested_at + STOPPING_SHARE * turnaround
            if elapsed >= stopped_at:
                self._end("Stopped", stopped_at, "The job was stopped.")
            return
        if elapsed < SUBMITTED_SHARE * turnaround:
            return
        self.status = "Validating"
        if elapsed < VALIDATED_SHARE * turnaround:
            return
        if self.fail:
            self._end(
                "Failed",
                VALIDATED_SHARE * turnaround,
                "Internal error: the job could not be processed.",
                output=False,
            )
            return
        self.status = "InProgress"
        timeout = self.timeout_hours * 3600.0
        running = max(turnaround * (1 - VALIDATED_SHARE), 1e-9)
        share = min(1.0, (min(elapsed, timeout) - VALIDATED_SHARE * turnaround) / running)
        due = len(self.records) if share >= 1.0 else math.floor(len(self.records) * share)
        if self.stop_after is not None and due >= self.stop_after:
            # Stopped as the record `stop_after` was answered, whenever this is observed.
            self._answer_until(self.stop_after, answer)
            self.request_stop(
                VALIDATED_SHARE * turnaround
                + running * min(1.0, self.stop_after / max(len(self.records), 1))
            )
            self.advance(elapsed, turnaround, answer)
            return
        self._answer_until(due, answer)
        if len(self.outputs) == len(self.records):
            status = "PartiallyCompleted" if self.errors else "Completed"
            self._end(status, min(elapsed, turnaround), None)
        elif elapsed >= timeout:
            self._end("Expired", timeout, "The job reached its timeout before it finished.")

    def _answer_until(self, count: int, answer: Callable[[JobRecord, int], dict[str, Any]]) -> None:
        while len(self.outputs) < min(count, len(self.records)):
            number = len(self.outputs) + 1
            self.outputs.append(answer(self.records[number - 1], number))

    def _end(self, status: str, at: float, message: str | None, *, output: bool = True) -> None:
        self.status, self.message, self.ended_at, self.output_pending = status, message, at, output

    def output_files(self, rng: random.Random) -> dict[str, str]:
        """Output file name → its JSONL, lines shuffled: the service does not keep input order."""
        by_file: dict[str, list[dict[str, Any]]] = {record.file_name: [] for record in self.records}
        file_of = {record.record_id: record.file_name for record in self.records}
        for line in self.outputs:
            by_file[file_of[line["recordId"]]].append(line)
        files = {}
        for file_name, lines in by_file.items():
            rng.shuffle(lines)
            files[f"{file_name}.out"] = "".join(
                json.dumps(line, ensure_ascii=False) + "\n" for line in lines
            )
        return files

    def manifest(self) -> dict[str, int]:
        return {
            "totalRecordCount": len(self.records),
            "processedRecordCount": len(self.outputs),
            "successRecordCount": len(self.outputs) - self.errors,
            "errorRecordCount": self.errors,
            "inputTokenCount": self.input_tokens,
            "outputTokenCount": self.output_tokens,
        }

    def summary(self) -> dict[str, Any]:
        """The job as GetModelInvocationJob and ListModelInvocationJobs describe it."""
        summary: dict[str, Any] = {
            "jobArn": self.arn,
            "jobName": self.name,
            "modelId": self.model_id,
            "roleArn": self.role_arn,
            "status": self.status,
            "submitTime": iso(self.submitted_wall),
            "lastModifiedTime": iso(datetime.now(UTC)),
            "inputDataConfig": {
                "s3InputDataConfig": {"s3Uri": self.input_uri, "s3InputFormat": "JSONL"}
            },
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": self.output_uri}},
            "timeoutDurationInHours": self.timeout_hours,
            "jobExpirationTime": iso(self.submitted_wall + timedelta(hours=self.timeout_hours)),
            "modelInvocationType": self.invocation_type,
            "totalRecordCount": len(self.records),
            "processedRecordCount": len(self.outputs),
            "successRecordCount": len(self.outputs) - self.errors,
            "errorRecordCount": self.errors,
        }
        if self.token:
            summary["clientRequestToken"] = self.token
        if self.message:
            summary["message"] = self.message
        if self.ended_at is not None:
            summary["endTime"] = iso(self.submitted_wall + timedelta(seconds=self.ended_at))
        return summary
