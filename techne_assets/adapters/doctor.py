"""`techne doctor`: is this machine and account ready to process videos? Each check says how to fix it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel

from techne_assets.settings import Settings

ClientFactory = Callable[[str], object]


class Finding(BaseModel):
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


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


def _bucket(label: str, uri: str, s3) -> Finding:
    bucket = uri.removeprefix("s3://").split("/", 1)[0]
    try:
        s3.head_bucket(Bucket=bucket)
        return Finding(name=label, ok=True, detail=f"s3://{bucket} reachable")
    except (ClientError, BotoCoreError) as error:
        return Finding(name=label, ok=False, detail=f"s3://{bucket}: {_error_text(error)}",
                       fix="check the bucket name in the setting and the role's s3 permissions (infra/template.yaml)")


def _location(label: str, uri: str, s3, must_exist: bool) -> Finding:
    return _bucket(label, uri, s3) if uri.startswith("s3://") else _folder(label, uri, must_exist)


def _call(name: str, call: Callable[[], object], ok_detail: str, fix: str, required: bool = True) -> Finding:
    try:
        call()
        return Finding(name=name, ok=True, detail=ok_detail, required=required)
    except (ClientError, BotoCoreError) as error:
        return Finding(name=name, ok=False, detail=_error_text(error), fix=fix, required=required)


def diagnose(settings: Settings, client: ClientFactory = boto3.client) -> list[Finding]:
    findings = [
        _program("ffmpeg", "audio extraction and screenshots", required=True),
        _program("ffprobe", "reading video facts", required=True),
        _program("espeak-ng", "only for `techne demo`", required=False),
    ]
    needs_aws = settings.profile == "aws" or any(
        uri.startswith("s3://") for uri in (settings.input_uri, settings.output_uri, settings.work_uri)
    )
    if not needs_aws:
        findings += [
            _folder("input", settings.input_uri, must_exist=True),
            _folder("output", settings.output_uri, must_exist=False),
            _folder("work", settings.work_uri, must_exist=False),
        ]
        return findings

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
        _location("work", settings.work_uri, s3, must_exist=False),
    ]
    if settings.writer == "bedrock":
        bedrock = client("bedrock")
        model = settings.bedrock_model_id
        lookup = (
            (lambda: bedrock.get_inference_profile(inferenceProfileIdentifier=model))
            if model.split(".", 1)[0] in {"us", "eu", "apac", "global"}
            else (lambda: bedrock.get_foundation_model(modelIdentifier=model))
        )
        findings.append(_call(
            "bedrock model", lookup, f"{model} available",
            "enable the model in the Bedrock console (Model access) for this region, or set TECHNE_BEDROCK_MODEL_ID",
        ))
        try:
            settings.price_for(model)
        except KeyError as error:
            findings.append(Finding(name="model price", ok=False, detail=str(error.args[0]),
                                    fix="add the model's prices to TECHNE_MODEL_PRICES"))
    if settings.transcriber == "transcribe":
        transcribe = client("transcribe")
        findings.append(_call(
            "transcribe", lambda: transcribe.list_transcription_jobs(MaxResults=1),
            "Amazon Transcribe reachable", "grant transcribe:StartTranscriptionJob/GetTranscriptionJob to the role",
        ))
    if settings.tracking_table:
        dynamodb = client("dynamodb")
        findings.append(_call(
            "tracking table", lambda: dynamodb.describe_table(TableName=settings.tracking_table),
            f"{settings.tracking_table} exists", "deploy the stack (make deploy) or fix TECHNE_TRACKING_TABLE",
        ))
    else:
        findings.append(Finding(name="tracking table", ok=False, detail="TECHNE_TRACKING_TABLE is not set",
                                fix="set it to the stack's TrackingTable output"))
    if settings.notify_topic_arn:
        sns = client("sns")
        findings.append(_call(
            "notification topic", lambda: sns.get_topic_attributes(TopicArn=settings.notify_topic_arn),
            "SNS topic reachable", "fix TECHNE_NOTIFY_TOPIC_ARN (the stack's NotificationTopic output)",
        ))
    else:
        findings.append(Finding(name="notification topic", ok=False, detail="TECHNE_NOTIFY_TOPIC_ARN is not set",
                                fix="set it to the stack's NotificationTopic output"))
    if settings.sensor_mode == "sqs":
        sqs = client("sqs")
        findings.append(_call(
            "events queue",
            lambda: sqs.get_queue_attributes(QueueUrl=settings.sqs_queue_url or "", AttributeNames=["QueueArn"]),
            "S3 events queue reachable", "set TECHNE_SQS_QUEUE_URL to the stack's EventsQueueUrl output",
        ))
    return findings
