"""`techne doctor`: is this machine and account ready to process videos? Each check says how to fix it.

The AWS checks are the probes of the permission table (adapters/permissions.py): each one calls
the API whose permission the task roles hold and the code needs, nothing else, so a check fails
inside the stack only when something the runs need is really missing. Against an emulator that
lacks an API (moto has no Bedrock runtime), the check says "not checked" instead of failing.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from techne_assets.adapters.bedrock_batch import batch_unavailable_reason
from techne_assets.adapters.permissions import probe_of
from techne_assets.settings import Settings

ClientFactory = Callable[[str], object]
# A job name nobody uses: GetTranscriptionJob on it proves the permission without side effects.
PROBE_JOB_NAME = "techne-doctor-permission-probe"


class Finding(BaseModel):
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True
    checked: bool = Field(default=True, description="False: the endpoint cannot answer this check")


def _error_text(error: Exception) -> str:
    if isinstance(error, ClientError):
        err = error.response.get("Error", {})
        return f"{err.get('Code', 'error')}: {err.get('Message', '')}".strip(": ")
    return " ".join(str(error).split())


def _program(name: str, purpose: str, required: bool) -> Finding:
    path = shutil.which(name)
    if path is None:
        return Finding(name=name, ok=False, detail=f"not installed ({purpose})",
                       fix="run `make setup` (installs it with apt-get)", required=required)
    version = subprocess.run([path, "-version" if name.startswith("ff") else "--version"],
                             capture_output=True, text=True, timeout=20).stdout.splitlines()
    return Finding(name=name, ok=True, detail=(version[0] if version else path), required=required)


def _folder(label: str, uri: str, must_exist: bool) -> Finding:
    path = Path(uri)
    if path.is_dir() or not must_exist:
        return Finding(name=label, ok=True, detail=f"{path.resolve()}" + ("" if path.is_dir() else " (created on first write)"))
    return Finding(name=label, ok=False, detail=f"{path} does not exist", fix=f"mkdir -p {path}")


def _unimplemented(error: ClientError) -> bool:
    """An emulator (moto) answers an API it lacks with a bare HTTP 5xx and no AWS error code."""
    status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    code = str(error.response.get("Error", {}).get("Code", ""))
    return status >= 500 and (not code or code.isdigit() or code == "NotImplemented")


def _probe(
    name: str,
    action: str,
    client,
    call: Callable[[], object],
    ok_detail: str,
    fix: str,
    *,
    required: bool = True,
    permitted_codes: frozenset[str] = frozenset(),
) -> Finding:
    """Checks `action` with the call the permission table names for it.

    `permitted_codes`: errors that prove the permission (e.g. "no such job" for a probe job)."""
    probe = probe_of(action)
    try:
        call()
        return Finding(name=name, ok=True, detail=f"{ok_detail} ({action})", required=required)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in permitted_codes:
            return Finding(name=name, ok=True, detail=f"{ok_detail} ({action})", required=required)
        if _unimplemented(error):
            endpoint = getattr(getattr(client, "meta", None), "endpoint_url", "the endpoint")
            return Finding(name=name, ok=True, checked=False, required=required,
                           detail=f"not checked: {endpoint} does not implement {probe.service} {probe.operation}")
        return Finding(name=name, ok=False, detail=f"{action}: {_error_text(error)}", fix=fix, required=required)
    except BotoCoreError as error:
        return Finding(name=name, ok=False, detail=f"{action}: {_error_text(error)}", fix=fix, required=required)


def _bucket(label: str, uri: str, s3) -> Finding:
    bucket = uri.removeprefix("s3://").split("/", 1)[0]
    return _probe(
        label, "s3:ListBucket", s3, lambda: s3.head_bucket(Bucket=bucket), f"s3://{bucket} reachable",
        "check the bucket name in the setting and the role's s3 permissions (infra/template.yaml)",
    )


def _location(label: str, uri: str, s3, must_exist: bool) -> Finding:
    return _bucket(label, uri, s3) if uri.startswith("s3://") else _folder(label, uri, must_exist)


def _call(name: str, call: Callable[[], object], ok_detail: str, fix: str, required: bool = True) -> Finding:
    try:
        call()
        return Finding(name=name, ok=True, detail=ok_detail, required=required)
    except (ClientError, BotoCoreError) as error:
        return Finding(name=name, ok=False, detail=_error_text(error), fix=fix, required=required)


def _model_access(settings: Settings, client: ClientFactory) -> list[Finding]:
    runtime = client("bedrock-runtime")
    model = settings.bedrock_model_id
    # One Converse call of one output token (about US$ 0.0001): the only check that proves both
    # the role's bedrock:InvokeModel and the account's access to this model in this region.
    findings = [_probe(
        "bedrock model", "bedrock:InvokeModel", runtime,
        lambda: runtime.converse(modelId=model, messages=[{"role": "user", "content": [{"text": "ok"}]}],
                                 inferenceConfig={"maxTokens": 1}),
        f"{model} answers",
        "enable the model in the Bedrock console (Model access) for this region, or set TECHNE_BEDROCK_MODEL_ID",
    )]
    try:
        settings.price_for(model)
    except KeyError as error:
        findings.append(Finding(name="model price", ok=False, detail=str(error.args[0]),
                                fix="add the model's prices to TECHNE_MODEL_PRICES"))
    return findings


def _batch_unavailable_reason(settings: Settings) -> str | None:
    return batch_unavailable_reason(
        profile=settings.profile, scratch_uri=settings.scratch_uri, role_arn=settings.batch_role_arn,
        model_id=settings.bedrock_model_id, batch_models=settings.batch_models,
        priced=settings.batch_price_or_none(settings.bedrock_model_id) is not None,
    )


def _batch(settings: Settings, client: ClientFactory) -> Finding:
    """Batch is optional (backfills fall back to on-demand), so this line never fails doctor."""
    reason = _batch_unavailable_reason(settings)
    if reason is not None:
        return Finding(name="bedrock batch", ok=False, required=False,
                       detail=f"unavailable, backfills go through on-demand: {reason}",
                       fix="deploy the stack (it sets TECHNE_BATCH_ROLE_ARN to its BatchServiceRoleArn) "
                           "and list the model in TECHNE_BATCH_MODELS if batch inference has it in this region")
    bedrock = client("bedrock")
    return _probe(
        "bedrock batch", "bedrock:ListModelInvocationJobs", bedrock,
        lambda: bedrock.list_model_invocation_jobs(maxResults=1),
        f"available for {settings.bedrock_model_id} with role {settings.batch_role_arn}",
        "grant the daemon role the bedrock-batch policy of infra/template.yaml",
        required=False,
    )


def aws_clients(region: str | None) -> ClientFactory:
    """Clients without botocore's retries: a check should answer at once, not after backoff."""
    config = Config(retries={"total_max_attempts": 1, "mode": "standard"}, connect_timeout=10, read_timeout=30)
    return lambda service: boto3.client(service, region_name=region, config=config)


def diagnose(settings: Settings, client: ClientFactory | None = None) -> list[Finding]:
    """Every check `techne doctor` prints; AWS checks call exactly the probes of the permission
    table (techne_assets/adapters/permissions.py)."""
    findings = [
        _program("ffmpeg", "audio extraction and screenshots", required=True),
        _program("ffprobe", "reading video facts", required=True),
        _program("espeak-ng", "only for `techne demo`", required=False),
    ]
    needs_aws = settings.profile == "aws" or any(
        uri.startswith("s3://")
        for uri in (settings.input_uri, settings.output_uri, settings.store_uri, settings.scratch_uri)
    )
    if not needs_aws:
        findings += [
            _folder("input", settings.input_uri, must_exist=True),
            _folder("output", settings.output_uri, must_exist=False),
            _folder("store", settings.store_uri, must_exist=False),
            _folder("scratch", settings.scratch_uri, must_exist=False),
        ]
        return findings

    client = client or aws_clients(settings.aws_region)
    sts = client("sts")
    identity = _call("credentials", lambda: sts.get_caller_identity(), "AWS credentials valid",
                     "configure credentials (AWS_PROFILE, instance/task role or `aws configure`)")
    findings.append(identity)
    if not identity.ok:
        return findings
    s3 = client("s3")
    findings += [
        _location("input", settings.input_uri, s3, must_exist=True),
        _location("output", settings.output_uri, s3, must_exist=False),
        _location("store", settings.store_uri, s3, must_exist=False),
        _location("scratch", settings.scratch_uri, s3, must_exist=False),
    ]
    if settings.writer == "bedrock":
        findings += _model_access(settings, client)
        findings.append(_batch(settings, client))
    if settings.transcriber == "transcribe":
        transcribe = client("transcribe")
        findings.append(_probe(
            "transcribe", "transcribe:GetTranscriptionJob", transcribe,
            lambda: transcribe.get_transcription_job(TranscriptionJobName=PROBE_JOB_NAME),
            "Amazon Transcribe reachable",
            "grant transcribe:StartTranscriptionJob/GetTranscriptionJob/DeleteTranscriptionJob to the role",
            # "The requested job couldn't be found": the call was allowed.
            permitted_codes=frozenset({"BadRequestException", "NotFoundException"}),
        ))
    if settings.tracking_table:
        dynamodb = client("dynamodb")
        findings.append(_probe(
            "tracking table", "dynamodb:DescribeTable", dynamodb,
            lambda: dynamodb.describe_table(TableName=settings.tracking_table),
            f"{settings.tracking_table} exists", "deploy the stack (make deploy) or fix TECHNE_TRACKING_TABLE",
        ))
    else:
        findings.append(Finding(name="tracking table", ok=False, detail="TECHNE_TRACKING_TABLE is not set",
                                fix="set it to the stack's TrackingTable output"))
    if settings.writer == "bedrock" and settings.bedrock_state_table:
        dynamodb = client("dynamodb")
        findings.append(_probe(
            "bedrock state table", "dynamodb:DescribeTable", dynamodb,
            lambda: dynamodb.describe_table(TableName=settings.bedrock_state_table),
            f"{settings.bedrock_state_table} exists",
            "deploy the stack (make deploy) or fix TECHNE_BEDROCK_STATE_TABLE",
        ))
    if settings.notify_topic_arn:
        sns = client("sns")
        findings.append(_probe(
            "notification topic", "sns:GetTopicAttributes", sns,
            lambda: sns.get_topic_attributes(TopicArn=settings.notify_topic_arn),
            "SNS topic reachable", "fix TECHNE_NOTIFY_TOPIC_ARN (the stack's NotificationTopic output)",
        ))
    else:
        findings.append(Finding(name="notification topic", ok=False, detail="TECHNE_NOTIFY_TOPIC_ARN is not set",
                                fix="set it to the stack's NotificationTopic output"))
    if settings.sensor_mode == "sqs":
        sqs = client("sqs")
        findings.append(_probe(
            "events queue", "sqs:GetQueueAttributes", sqs,
            lambda: sqs.get_queue_attributes(QueueUrl=settings.sqs_queue_url or "", AttributeNames=["QueueArn"]),
            "S3 events queue reachable", "set TECHNE_SQS_QUEUE_URL to the stack's EventsQueueUrl output",
        ))
    return findings
