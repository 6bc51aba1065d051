"""Amazon Bedrock batch inference: JSONL records in and out of S3, and the job control plane.

Facts this module depends on (Bedrock user guide, "batch inference", "batch inference
data/results"; botocore's `bedrock` 2023-04-20 service model):
- Input: `.jsonl` files, one `{"recordId": "<alphanumeric>", "modelInput": {...}}` per line.
- Batch does not support tool calling with `modelInvocationType="Converse"`: records with a
  `toolConfig` fail with a 400 error. Tool calling needs the `InvokeModel` invocation type with
  each `modelInput` in the model's native request format. Every writer stage forces a tool, so
  records here are InvokeModel records in the Anthropic Messages format (the format of every
  Claude model on Bedrock): the Converse body the on-demand client builds (same function, no
  `cachePoint`: batch has no prompt cache) mapped field by field to `anthropic_version`,
  `max_tokens`, `temperature`, `system`, `messages`, `tools`, `tool_choice`; the model is
  named by the job, not the record. Other model families are refused (`record_format_reason`).
- Output: for each input file `<name>.jsonl`, Bedrock writes `<output s3Uri>/<job id>/<name>.jsonl.out`
  (the job id is the last part of the job ARN) with lines `{"recordId", "modelInput",
  "modelOutput"}` where `modelOutput` is the native response body (Anthropic: `content`
  blocks of `text`/`tool_use`, `stop_reason`, `usage.input_tokens/output_tokens`), or
  `{"recordId", "modelInput", "error": {"errorCode": 400, "errorMessage": "..."}}`. Output
  order does not follow input order. A `manifest.json.out` next to them holds
  `totalRecordCount`, `processedRecordCount`, `successRecordCount`, `errorRecordCount`,
  `inputTokenCount`, `outputTokenCount`.
- CreateModelInvocationJob: POST /model-invocation-job with `jobName` (pattern
  `[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\\+\\-\\.]){0,63}`, at most 63 characters), `roleArn`,
  `modelId`, `inputDataConfig.s3InputDataConfig.{s3Uri, s3InputFormat="JSONL"}`,
  `outputDataConfig.s3OutputDataConfig.s3Uri`, `timeoutDurationInHours` (24-168),
  `tags` (`[{key, value}]`), `clientRequestToken` (idempotency), `modelInvocationType`
  ("InvokeModel", the default, | "Converse") → `{jobArn}`.
- GetModelInvocationJob: GET /model-invocation-job/{jobIdentifier} → `status` (Submitted,
  Validating, Scheduled, InProgress, Stopping, Stopped, Completed, PartiallyCompleted,
  Failed, Expired), `message`, `submitTime`, `endTime`, the data configs and record counts.
- StopModelInvocationJob: POST /model-invocation-job/{jobIdentifier}/stop → `{}`; a job that
  already ended answers ConflictException.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from techne_assets.adapters.bedrock import (
    BedrockError,
    TruncatedOutputError,
    UnusableReplyError,
    converse_body,
    error_code,
    parse_converse_response,
)
from techne_assets.adapters.storage import Storage
from techne_assets.core.pricing import ModelPrice
from techne_assets.core.writing.base import ModelReply, ToolSpec
from techne_assets.core.writing.batch_records import BatchAnswer

logger = logging.getLogger(__name__)

FINISHED_STATUSES = frozenset({"Completed", "PartiallyCompleted", "Stopped", "Failed", "Expired"})
JOB_NAME_PATTERN = re.compile(r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9+\-.]){0,63}")
JOB_NAME_MAX_LENGTH = 63
OUTPUT_SUFFIX = ".jsonl.out"
INVOCATION_TYPE = "InvokeModel"  # tool calling in batch needs the native format
ANTHROPIC_VERSION = "bedrock-2023-05-31"
# Anthropic stop reasons in Converse's words, so one parser judges both paths' answers.
ANTHROPIC_STOP_REASONS = {
    "end_turn": "end_turn",
    "tool_use": "tool_use",
    "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence",
    "refusal": "content_filtered",
    "model_context_window_exceeded": "model_context_window_exceeded",
}
MANIFEST_NAME = "manifest.json.out"


class BatchJobError(BedrockError):
    """The batch control plane refused a call (too few records, no such job, no access...)."""

    def __init__(self, doing: str, code: str, message: str):
        super().__init__(f"Bedrock batch refused to {doing} ({code or 'HTTP 4xx'}): {message}")
        self.code = code


class MalformedOutputLine(ValueError):
    """A batch output line that cannot be tied to a record (no recordId)."""


class BatchJobStatus(BaseModel):
    job_arn: str
    job_name: str | None = None
    status: str
    message: str | None = None
    submitted_at: str | None = None
    ended_at: str | None = None
    input_uri: str
    output_uri: str
    total_records: int | None = None
    processed_records: int | None = None
    success_records: int | None = None
    error_records: int | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


def record_format_reason(model_id: str) -> str | None:
    """Why records for `model_id` cannot be written (None when they can): only the Anthropic
    Messages format is written, the native format of Claude models."""
    if "anthropic." in model_id:
        return None
    return (
        f"batch records are written in the Anthropic Messages format (tool calling needs the "
        f"model's native format in batch); {model_id} is not an Anthropic model"
    )


def batch_unavailable_reason(*, profile: str, scratch_uri: str, role_arn: str | None, model_id: str,
                             batch_models: list[str], priced: bool) -> str | None:
    """Why a backfill of `model_id` cannot go through batch with this configuration, in one
    line (None: it can); `techne doctor`, `techne backfill` and the batch sensor all ask this."""
    if profile != "aws" or not scratch_uri.startswith("s3://"):
        return f"batch needs an S3 scratch store (profile {profile}, TECHNE_SCRATCH_URI {scratch_uri})"
    if not role_arn:
        return "TECHNE_BATCH_ROLE_ARN is not set (the service role Bedrock batch assumes)"
    if model_id not in batch_models:
        return f"model {model_id} is not in TECHNE_BATCH_MODELS ({', '.join(batch_models) or 'empty'})"
    if (reason := record_format_reason(model_id)) is not None:
        return reason
    if not priced:
        return f"no price for model {model_id} (TECHNE_MODEL_PRICES / TECHNE_BATCH_PRICES)"
    return None


def anthropic_messages_body(converse: Mapping[str, Any]) -> dict[str, Any]:
    """The Anthropic Messages request body (InvokeModel) of a Converse request body."""
    config = converse.get("inferenceConfig", {})
    body: dict[str, Any] = {
        "anthropic_version": ANTHROPIC_VERSION,
        "max_tokens": config["maxTokens"],
        "system": [{"type": "text", "text": block["text"]} for block in converse.get("system", [])],
        "messages": [
            {
                "role": message["role"],
                "content": [
                    {"type": "text", "text": block["text"]}
                    for block in message["content"]
                    if "text" in block
                ],
            }
            for message in converse["messages"]
        ],
    }
    if "temperature" in config:
        body["temperature"] = config["temperature"]
    tool_config = converse.get("toolConfig")
    if tool_config:
        body["tools"] = [
            {
                "name": tool["toolSpec"]["name"],
                "description": tool["toolSpec"]["description"],
                "input_schema": tool["toolSpec"]["inputSchema"]["json"],
            }
            for tool in tool_config["tools"]
        ]
        if forced := tool_config.get("toolChoice", {}).get("tool", {}).get("name"):
            body["tool_choice"] = {"type": "tool", "name": forced}
    return body


def converse_record(
    record_id: str, request: Mapping[str, Any], *, max_output_tokens: int | None = None
) -> dict[str, Any]:
    """One batch input line for the keyword arguments of `ModelClient.converse`: the request
    the on-demand client would send, without its cache point, in the Anthropic Messages format.

    `max_output_tokens` caps `max_tokens` like the on-demand client's own cap
    (TECHNE_BEDROCK_MAX_OUTPUT_TOKENS), so both paths ask the model for the same budget."""
    tool = request.get("tool")
    if isinstance(tool, Mapping):
        tool = ToolSpec.model_validate(tool)
    max_tokens = request.get("max_tokens", 4096)
    if max_output_tokens is not None:
        max_tokens = min(max_tokens, max_output_tokens)
    body = converse_body(
        system=request["system"],
        prompt=request["prompt"],
        cached_prefix=request.get("cached_prefix"),
        max_tokens=max_tokens,
        tool=tool,
        cache_point=False,
    )
    return {"recordId": record_id, "modelInput": anthropic_messages_body(body)}


def _forced_tool(model_input: Any) -> ToolSpec | None:
    """The tool a record forced, as far as the parser needs it (its name), from the echoed input."""
    if not isinstance(model_input, Mapping):
        return None
    name = (model_input.get("tool_choice") or {}).get("name") or (
        (model_input.get("toolConfig") or {}).get("toolChoice", {}).get("tool", {}).get("name")
    )
    return ToolSpec(name=name, description="", input_schema={}) if name else None


def _as_converse_response(output: Mapping[str, Any]) -> Mapping[str, Any]:
    """A native Anthropic Messages response in the Converse response shape (a Converse-shaped
    one, from a Converse job, is returned as it is)."""
    if "output" in output or "content" not in output:
        return output
    content: list[dict[str, Any]] = []
    for block in output["content"]:
        if block.get("type") == "text":
            content.append({"text": block["text"]})
        elif block.get("type") == "tool_use":
            content.append(
                {
                    "toolUse": {
                        "toolUseId": block.get("id", ""),
                        "name": block["name"],
                        "input": block["input"],
                    }
                }
            )
    usage = output.get("usage", {})
    return {
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": ANTHROPIC_STOP_REASONS.get(
            output.get("stop_reason"), output.get("stop_reason") or ""
        ),
        "usage": {
            "inputTokens": usage.get("input_tokens", 0),
            "outputTokens": usage.get("output_tokens", 0),
            "cacheReadInputTokens": usage.get("cache_read_input_tokens") or 0,
            "cacheWriteInputTokens": usage.get("cache_creation_input_tokens") or 0,
        },
    }


def parse_output_line(
    line: Mapping[str, Any], *, model_id: str, price: ModelPrice, stage: str
) -> tuple[str, ModelReply | None, str | None]:
    """(record id, reply, error) of one output line; exactly one of reply and error is set.

    The reply is parsed like an on-demand Converse response (a native Anthropic answer is
    mapped to that shape first) and priced at `price` (the batch price). An `error` line, an answer cut at max_tokens, a blocked or unusable answer and a
    `modelOutput` that does not parse all come back as an error text. Raises
    MalformedOutputLine only when the line has no recordId to report the error against.
    """
    record = line.get("recordId")
    if not isinstance(record, str) or not record:
        raise MalformedOutputLine(f"a batch output line without a recordId: {str(line)[:120]}")
    if line.get("error") is not None:
        error = line["error"]
        if isinstance(error, Mapping):
            code, message = error.get("errorCode", "?"), error.get("errorMessage", "")
        else:
            code, message = "?", str(error)
        return record, None, f"batch record error {code}: {message}".rstrip(": ")
    output = line.get("modelOutput")
    if not isinstance(output, Mapping):
        return record, None, "malformed batch output: neither modelOutput nor error"
    try:
        reply = parse_converse_response(
            stage,
            _as_converse_response(output),
            model_id=model_id,
            price=price,
            tool=_forced_tool(line.get("modelInput")),
        )
    except TruncatedOutputError:
        return record, None, f"{stage}: cut at max_tokens"
    except UnusableReplyError as unusable:
        return record, None, str(unusable)
    except (AttributeError, KeyError, TypeError, ValueError, ValidationError) as broken:
        return record, None, f"malformed batch output ({type(broken).__name__}: {broken})"
    return record, reply, None


def answers_from_output(
    lines: Iterable[Mapping[str, Any]],
    *,
    digests: Mapping[str, str],
    stage_labels: Mapping[str, str],
    model_id: str,
    price: ModelPrice,
) -> list[BatchAnswer]:
    """The answers of a job's output lines, by the record id → digest / stage label mappings
    of the pass results. Lines of unknown records, or without a record id, are logged and skipped
    (their requests stay unanswered and are deferred again)."""
    answers: list[BatchAnswer] = []
    for line in lines:
        try:
            record = line.get("recordId")
            if record not in digests:
                logger.warning("batch output line for an unknown record %r skipped", record)
                continue
            stage = stage_labels.get(record, "")
            record, reply, error = parse_output_line(
                line, model_id=model_id, price=price, stage=stage
            )
        except MalformedOutputLine as malformed:
            logger.warning("%s", malformed)
            continue
        answers.append(
            BatchAnswer(
                digest=digests[record], record_id=record, stage=stage, reply=reply, error=error
            )
        )
    return answers


def job_name(*parts: str | int) -> str:
    """A valid job name from its parts ("<group>", "p3", "extract"): others become '-'."""
    joined = "-".join(str(part) for part in parts)
    cleaned = re.sub(r"[^a-zA-Z0-9+\-.]+", "-", joined).strip("-.+")
    return cleaned[:JOB_NAME_MAX_LENGTH].rstrip("-.+") or "techne"


def _iso(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def _folder_prefix(storage: Storage, location: str) -> str:
    """The key prefix ("a/b/", or "" for the root) of a folder given as a key or as a URI under
    the storage's root."""
    key = location
    if "://" in location or location.startswith("/"):
        root = storage.root_uri.rstrip("/") + "/"
        if not (location.rstrip("/") + "/").startswith(root):
            raise ValueError(f"{location} is not under {storage.root_uri}")
        key = (location.rstrip("/") + "/").removeprefix(root)
    key = key.strip("/")
    return f"{key}/" if key else ""


class BedrockBatchJobs:
    """Create, follow and stop model invocation jobs through a boto3 `bedrock` client."""

    def __init__(self, client: Any):
        self._client = client

    def submit(
        self,
        *,
        job_name: str,
        model_id: str,
        role_arn: str,
        input_uri: str,
        output_uri: str,
        timeout_hours: int,
        tags: Mapping[str, str],
    ) -> str:
        """Creates the job, returns its ARN. The idempotency token comes from the job name, so
        submitting the same name twice (a retried sensor tick) yields the same job."""
        if len(job_name) > JOB_NAME_MAX_LENGTH or not JOB_NAME_PATTERN.fullmatch(job_name):
            raise ValueError(f"not a valid batch job name: {job_name!r} (see job_name())")
        try:
            response = self._client.create_model_invocation_job(
                jobName=job_name,
                roleArn=role_arn,
                clientRequestToken=hashlib.sha256(job_name.encode()).hexdigest()[:32],
                modelId=model_id,
                modelInvocationType=INVOCATION_TYPE,
                inputDataConfig={
                    "s3InputDataConfig": {"s3Uri": input_uri, "s3InputFormat": "JSONL"}
                },
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": output_uri}},
                timeoutDurationInHours=timeout_hours,
                tags=[{"key": key, "value": value} for key, value in tags.items()],
            )
        except ClientError as error:
            raise _refused(error, f"create batch job {job_name}") from error
        return response["jobArn"]

    def describe(self, job_arn: str) -> BatchJobStatus:
        try:
            job = self._client.get_model_invocation_job(jobIdentifier=job_arn)
        except ClientError as error:
            raise _refused(error, f"describe batch job {job_arn}") from error
        return BatchJobStatus(
            job_arn=job["jobArn"],
            job_name=job.get("jobName"),
            status=job.get("status", "Submitted"),
            message=job.get("message") or None,
            submitted_at=_iso(job.get("submitTime")),
            ended_at=_iso(job.get("endTime")),
            input_uri=job["inputDataConfig"]["s3InputDataConfig"]["s3Uri"],
            output_uri=job["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"],
            total_records=job.get("totalRecordCount"),
            processed_records=job.get("processedRecordCount"),
            success_records=job.get("successRecordCount"),
            error_records=job.get("errorRecordCount"),
        )

    def stop(self, job_arn: str) -> bool:
        """Asks the service to stop the job; False when it had already ended (nothing to stop)."""
        try:
            self._client.stop_model_invocation_job(jobIdentifier=job_arn)
        except ClientError as error:
            if error_code(error) == "ConflictException":
                logger.info("batch job %s had already ended: %s", job_arn, error)
                return False
            raise _refused(error, f"stop batch job {job_arn}") from error
        return True

    @staticmethod
    def output_files(storage: Storage, output_uri: str) -> list[str]:
        """Keys of the output JSONL files under a job's output location (any job id folder)."""
        prefix = _folder_prefix(storage, output_uri)
        return [
            item.key for item in storage.list_objects(prefix) if item.key.endswith(OUTPUT_SUFFIX)
        ]


def _refused(error: ClientError, doing: str) -> BatchJobError:
    return BatchJobError(
        doing, error_code(error), error.response.get("Error", {}).get("Message", "")
    )


def write_records(storage: Storage, key: str, records: list[dict[str, Any]]) -> None:
    """One JSONL input file; Bedrock reads only keys ending in `.jsonl`."""
    if not key.endswith(".jsonl"):
        raise ValueError(f"a batch input file must end in .jsonl: {key}")
    data = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    storage.write_bytes(key, data.encode("utf-8"), content_type="application/jsonl")


def read_outputs(storage: Storage, output_prefix: str) -> Iterator[dict[str, Any]]:
    """Every line of every `*.jsonl.out` under a job's output location (key or URI), file by
    file. A line that is not a JSON object is logged and skipped: its record stays unanswered."""
    for key in BedrockBatchJobs.output_files(storage, output_prefix):
        for number, raw in enumerate(storage.read_bytes(key).decode("utf-8").splitlines(), 1):
            if not raw.strip():
                continue
            try:
                line = json.loads(raw)
            except json.JSONDecodeError as error:
                logger.warning(
                    "%s line %d is not JSON (%s); skipped", storage.uri(key), number, error
                )
                continue
            if isinstance(line, dict):
                yield line
            else:
                logger.warning("%s line %d is not a JSON object; skipped", storage.uri(key), number)


def read_manifest(storage: Storage, output_prefix: str) -> dict[str, int] | None:
    """The counts of `manifest.json.out` under a job's output location; None before it exists."""
    prefix = _folder_prefix(storage, output_prefix)
    for item in storage.list_objects(prefix):
        if item.key.rsplit("/", 1)[-1] == MANIFEST_NAME:
            manifest = json.loads(storage.read_bytes(item.key))
            return {
                name: int(value)
                for name, value in manifest.items()
                if isinstance(value, int | float)
            }
    return None
