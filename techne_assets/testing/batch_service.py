"""A local HTTP stand-in for Bedrock batch inference (model invocation jobs), which moto lacks.

It speaks the `bedrock` control plane's REST-JSON wire format (botocore's 2023-04-20 service
model) for CreateModelInvocationJob (`POST /model-invocation-job`), GetModelInvocationJob
(`GET /model-invocation-job/{jobIdentifier}`), StopModelInvocationJob
(`POST /model-invocation-job/{jobIdentifier}/stop`) and ListModelInvocationJobs
(`GET /model-invocation-jobs`), so a real boto3 `bedrock` client reaches it through the
standard `AWS_ENDPOINT_URL_BEDROCK` setting. Errors come in the service's shape: an HTTP
status, `x-amzn-ErrorType` and `{"message": ...}` (ValidationException for too few records or
bad parameters, ResourceNotFoundException for an unknown job, ConflictException when stopping
a job that already ended).

A job reads its input JSONL from S3 when it is created (moto over HTTP in tests), answers each
record in-process through a `ConverseSimulator`'s Converse handler (so answers follow the
forced tools' schemas exactly as on demand): InvokeModel records in the Anthropic Messages
format are read and answered in that format (testing/native_messages.py); Converse records are
answered as they are, except that a `toolConfig` makes the record fail with a 400 error, as the
service documents for batch. When it ends, the job writes
`<output s3Uri>/<job id>/<input file>.out` with `recordId`, `modelInput` and `modelOutput` or
`error` per record in shuffled order, plus `manifest.json.out`. Unless given one, the service
answers through a private simulator with no quota, so batch work never takes on-demand quota.

Time: a job goes Submitted → Validating → InProgress (records answered progressively) →
Completed / PartiallyCompleted over `turnaround_seconds` of simulated time (see
testing/batch_job.py); `clock` and `time_scale` work like the simulator's (a `FakeClock` makes
the progression step by step). State advances, under one lock, whenever the service is called and
every `tick_seconds` of real time, so output appears in S3 without anyone asking.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import string
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import boto3
from botocore.exceptions import ClientError

from techne_assets.testing.batch_job import (
    JobRecord,
    ServiceError,
    SimulatedJob,
    parse_input_file,
)
from techne_assets.testing.converse_simulator import CannedReply, ConverseCall, ConverseSimulator
from techne_assets.testing.native_messages import (
    MalformedInput,
    converse_request_of,
    native_response_of,
)

logger = logging.getLogger(__name__)

RECORD_ERROR = {"errorCode": 500, "errorMessage": "Internal error while processing the record."}
_ID_ALPHABET = string.ascii_lowercase + string.digits


def _parse_s3_uri(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ServiceError(400, "ValidationException", f"not an S3 URI: {uri}")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


class BatchService:
    """The batch control plane over HTTP; knobs (`error_every`, `fail_next_job`,
    `stop_after_records`, `turnaround_seconds`) may be changed while it runs."""

    def __init__(
        self,
        *,
        responder: Callable[[ConverseCall], CannedReply] | None = None,
        simulator: ConverseSimulator | None = None,
        s3_client: Any | None = None,
        min_records: int = 100,
        turnaround_seconds: float = 600.0,
        time_scale: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        error_every: int = 0,
        fail_next_job: bool = False,
        stop_after_records: int | None = None,
        region: str = "us-east-1",
        account_id: str = "123456789012",
        seed: int = 0,
        tick_seconds: float = 0.05,
    ):
        if time_scale <= 0:
            raise ValueError("time_scale must be positive")
        self._own_simulator = simulator is None
        # No quota and no latency: batch runs outside the on-demand tokens-per-minute quota.
        self.simulator = simulator or ConverseSimulator(
            requests_per_minute=10**12,
            tokens_per_minute=10**15,
            time_scale=0.0,
            responder=responder,
        )
        self._s3 = s3_client
        self.min_records = min_records
        self.turnaround_seconds = turnaround_seconds
        self.time_scale = time_scale
        self.clock = clock
        self.error_every = error_every
        self.fail_next_job = fail_next_job
        self.stop_after_records = stop_after_records
        self.region, self.account_id = region, account_id
        self._random = random.Random(seed)
        self._lock = threading.RLock()
        self._jobs: dict[str, SimulatedJob] = {}
        self.records_received: dict[str, int] = {}
        self.record_ids_received: dict[str, list[str]] = {}
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.tick_seconds = tick_seconds
        self._closing = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        if self._own_simulator:
            self.simulator.__enter__()
        self._thread.start()
        self._ticker.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()
        self._ticker.join()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        if self._own_simulator:
            self.simulator.__exit__(*exc_info)

    @property
    def s3(self) -> Any:
        if self._s3 is None:
            self._s3 = boto3.client("s3", region_name=self.region)
        return self._s3

    def job_arns(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def advance(self) -> None:
        """Brings every job up to the clock's time (answers records, writes ended jobs' output)."""
        with self._lock:
            for job in self._jobs.values():
                elapsed = (self.clock() - job.submitted_clock) / self.time_scale
                job.advance(
                    elapsed,
                    self.turnaround_seconds,
                    lambda record, number, job=job: self._output_line(job, record, number),
                )
                if job.output_pending:
                    job.output_pending = False
                    self._write_output(job)

    def _tick(self) -> None:
        while not self._closing.wait(self.tick_seconds):
            try:
                self.advance()
            except Exception:  # keep ticking: the next call reports the same failure
                logger.exception("the batch service could not advance its jobs")

    # ---- operations ----------------------------------------------------------------------

    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        for name in ("jobName", "roleArn", "modelId", "inputDataConfig", "outputDataConfig"):
            if not body.get(name):
                raise ServiceError(400, "ValidationException", f"{name} is required")
        token = body.get("clientRequestToken")
        with self._lock:
            for job in self._jobs.values():
                if token and job.token == token:
                    return {"jobArn": job.arn}  # idempotent retry: the same job
        invocation_type = body.get("modelInvocationType", "InvokeModel")
        if invocation_type not in ("InvokeModel", "Converse"):
            raise ServiceError(
                400, "ValidationException", f"unknown modelInvocationType {invocation_type}"
            )
        timeout_hours = int(body.get("timeoutDurationInHours", 24))
        if not 24 <= timeout_hours <= 168:
            raise ServiceError(
                400, "ValidationException", "timeoutDurationInHours must be between 24 and 168"
            )
        input_uri = body["inputDataConfig"].get("s3InputDataConfig", {}).get("s3Uri", "")
        output_uri = body["outputDataConfig"].get("s3OutputDataConfig", {}).get("s3Uri", "")
        _parse_s3_uri(output_uri)
        records = self._read_input(input_uri)
        if len(records) < self.min_records:
            raise ServiceError(
                400,
                "ValidationException",
                f"The number of records in the input ({len(records)}) is less than the minimum "
                f"number of records per batch inference job ({self.min_records}).",
            )
        job_id = "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
        arn = f"arn:aws:bedrock:{self.region}:{self.account_id}:model-invocation-job/{job_id}"
        with self._lock:
            self._jobs[arn] = SimulatedJob(
                arn=arn,
                name=body["jobName"],
                model_id=body["modelId"],
                role_arn=body["roleArn"],
                invocation_type=invocation_type,
                input_uri=input_uri,
                output_uri=output_uri,
                token=token,
                timeout_hours=timeout_hours,
                records=records,
                submitted_clock=self.clock(),
                submitted_wall=datetime.now(UTC),
                fail=self.fail_next_job,
                stop_after=self.stop_after_records,
            )
            self.fail_next_job, self.stop_after_records = False, None
            self.records_received[arn] = len(records)
            self.record_ids_received[arn] = [record.record_id for record in records]
        return {"jobArn": arn}

    def get_job(self, identifier: str) -> dict[str, Any]:
        with self._lock:
            self.advance()
            return self._job(identifier).summary()

    def stop_job(self, identifier: str) -> dict[str, Any]:
        with self._lock:
            self.advance()
            job = self._job(identifier)
            job.request_stop((self.clock() - job.submitted_clock) / self.time_scale)
        return {}

    def list_jobs(self, query: dict[str, list[str]]) -> dict[str, Any]:
        def first(name: str) -> str | None:
            return query.get(name, [None])[0]

        with self._lock:
            self.advance()
            jobs = sorted(
                self._jobs.values(),
                key=lambda job: job.submitted_clock,
                reverse=first("sortOrder") != "Ascending",
            )
            if status := first("statusEquals"):
                jobs = [job for job in jobs if job.status == status]
            if contains := first("nameContains"):
                jobs = [job for job in jobs if contains in job.name]
            start = int(first("nextToken") or 0)
            size = int(first("maxResults") or 1000)
            answer: dict[str, Any] = {
                "invocationJobSummaries": [job.summary() for job in jobs[start : start + size]]
            }
            if start + size < len(jobs):
                answer["nextToken"] = str(start + size)
            return answer

    # ---- internals -----------------------------------------------------------------------

    def _job(self, identifier: str) -> SimulatedJob:
        for job in self._jobs.values():
            if identifier in (job.arn, job.job_id):
                return job
        raise ServiceError(404, "ResourceNotFoundException", f"The job {identifier} was not found.")

    def _read_input(self, input_uri: str) -> list[JobRecord]:
        bucket, key = _parse_s3_uri(input_uri)
        try:
            if key.endswith(".jsonl"):
                keys = [key]
            else:
                prefix = key.rstrip("/") + "/" if key else ""
                pages = self.s3.get_paginator("list_objects_v2").paginate(
                    Bucket=bucket, Prefix=prefix
                )
                keys = [
                    item["Key"]
                    for page in pages
                    for item in page.get("Contents", [])
                    if item["Key"].endswith(".jsonl")
                ]
            if not keys:
                raise ServiceError(
                    400, "ValidationException", f"no .jsonl input files at {input_uri}"
                )
            records: list[JobRecord] = []
            for file_key in keys:
                text = self.s3.get_object(Bucket=bucket, Key=file_key)["Body"].read()
                name = file_key.rsplit("/", 1)[-1]
                records.extend(parse_input_file(name, text.decode("utf-8"), self._random))
        except ClientError as error:
            raise ServiceError(
                400, "ValidationException", f"cannot read {input_uri}: {error}"
            ) from None
        return records

    def _output_line(self, job: SimulatedJob, record: JobRecord, number: int) -> dict[str, Any]:
        line: dict[str, Any] = {"recordId": record.record_id, "modelInput": record.model_input}
        if self.error_every and number % self.error_every == 0:
            line["error"] = dict(RECORD_ERROR)
            return line
        try:
            line["modelOutput"] = self._answer(job, record.model_input)
        except MalformedInput as malformed:
            line["error"] = {"errorCode": 400, "errorMessage": str(malformed)}
        return line

    def _answer(self, job: SimulatedJob, model_input: dict[str, Any]) -> dict[str, Any]:
        """One record's modelOutput, in the job's invocation type's format."""
        if job.invocation_type == "Converse":
            if "toolConfig" in model_input:  # as documented for batch with Converse records
                raise MalformedInput("tool calling is not supported for Converse batch records")
            request = model_input
        else:
            request = converse_request_of(model_input)
        status, _, payload = self.simulator.handle_converse(job.model_id, request, time.monotonic())
        answer = json.loads(payload)
        if status != 200:
            raise MalformedInput(answer.get("message", f"HTTP {status}"))
        answer.pop("metrics", None)
        job.input_tokens += answer["usage"]["inputTokens"]
        job.output_tokens += answer["usage"]["outputTokens"]
        if job.invocation_type == "Converse":
            return answer
        return native_response_of(answer, job.model_id)

    def _write_output(self, job: SimulatedJob) -> None:
        bucket, key = _parse_s3_uri(job.output_uri)
        folder = f"{key.rstrip('/')}/{job.job_id}/" if key.strip("/") else f"{job.job_id}/"
        files = {**job.output_files(self._random), "manifest.json.out": json.dumps(job.manifest())}
        try:
            for name, text in files.items():
                self.s3.put_object(Bucket=bucket, Key=folder + name, Body=text.encode("utf-8"))
        except ClientError as error:  # like the service when its role cannot write the output
            job.status = "Failed"
            job.message = f"could not write the output to {job.output_uri}: {error}"

    def handle(
        self, method: str, path: str, body: dict[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        """One HTTP request: (status, headers, body)."""
        parsed = urlsplit(path)
        parts = [unquote(part) for part in parsed.path.strip("/").split("/")]
        try:
            if method == "POST" and parts == ["model-invocation-job"]:
                answer = self.create_job(body)
            elif method == "GET" and len(parts) == 2 and parts[0] == "model-invocation-job":
                answer = self.get_job(parts[1])
            elif (
                method == "POST"
                and len(parts) == 3
                and parts[0] == "model-invocation-job"
                and parts[2] == "stop"
            ):
                answer = self.stop_job(parts[1])
            elif method == "GET" and parts == ["model-invocation-jobs"]:
                answer = self.list_jobs(parse_qs(parsed.query))
            else:
                raise ServiceError(
                    404, "UnknownOperationException", f"no such operation: {method} {parsed.path}"
                )
        except ServiceError as error:
            headers = {"Content-Type": "application/json", "x-amzn-ErrorType": error.code}
            return error.status, headers, json.dumps({"message": error.message}).encode()
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


def _handler_for(service: BatchService) -> type[BaseHTTPRequestHandler]:
    class BatchHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length", 0))
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw or b"{}")
            except json.JSONDecodeError:
                body = None
            if not isinstance(body, dict):
                status, headers, payload = (
                    400,
                    {"Content-Type": "application/json", "x-amzn-ErrorType": "ValidationException"},
                    b'{"message":"invalid JSON body"}',
                )
            else:
                status, headers, payload = service.handle(method, self.path, body)
            self.send_response(status)
            for name, value in {**headers, "x-amzn-RequestId": secrets.token_hex(16)}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the counters
            return

    return BatchHandler
