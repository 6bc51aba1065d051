"""Notification messages (pure) and their delivery: a log file, and SNS → SQS on moto over HTTP."""

from __future__ import annotations

import json

import boto3
import pytest
from pydantic import ValidationError

from techne_assets.adapters.notify import LogFileNotifier, SnsNotifier
from techne_assets.core.errors import InputError
from techne_assets.core.notifications import (
    SUBJECT_MAX_LENGTH,
    Notification,
    check_failed_notification,
    completed_notification,
    failed_notification,
    format_duration,
)
from techne_assets.defs.resources import NotifierResource

FILE = "Treinamento Configuração 01.mp4"
RUN_URL = "http://localhost:3000/runs/4f1c"
DOC_URL = "https://example.com/out/treinamento-configuracao-01/document.md"


def _completed(file_name: str = FILE) -> Notification:
    return completed_notification(
        file_name=file_name,
        execution_id="4f1c",
        document_url=DOC_URL,
        cost_usd=0.12345,
        duration_seconds=754.4,
        media_duration_seconds=10_805,
        run_url=RUN_URL,
    )


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def test_completed_notification():
    notification = _completed()

    assert notification.subject == f"✅ Video Processing Completed - {FILE}"
    for expected in (FILE, DOC_URL, "US$ 0.1235", "03:00:05", "00:12:34", "4f1c", RUN_URL):
        assert expected in notification.body
    assert notification.attributes == {
        "execution_id": "4f1c",
        "status": "COMPLETED",
        "file_name": FILE,
        "cost_usd": "0.123450",
    }


def test_failed_notification_names_the_step_and_the_reason():
    notification = failed_notification(
        FILE, "9a9a", "transcript", "Transcribe job FAILED: bad audio", RUN_URL
    )

    assert notification.subject == f"❌ Video Processing Failed - {FILE}"
    assert "transcript" in notification.body
    assert "Transcribe job FAILED: bad audio" in notification.body
    assert notification.attributes["status"] == "FAILED"
    assert "cost_usd" not in notification.attributes

    with_cost = failed_notification(FILE, "9a9a", "draft", "throttled", RUN_URL, cost_usd=0.5)
    assert with_cost.attributes["cost_usd"] == "0.500000"
    assert "US$ 0.5000" in with_cost.body


def test_check_failed_notification_marks_severity():
    warn = check_failed_notification(
        FILE, "77", "grounding", "document", "WARN", "2 commands not in the transcript", RUN_URL
    )
    error = check_failed_notification(
        FILE, "77", "sections", "document", "error", "section 4 missing", RUN_URL
    )

    assert warn.subject == f"⚠️ Quality Check Failed - {FILE}"
    assert error.subject == f"❌ Quality Check Failed - {FILE}"
    assert "2 commands not in the transcript" in warn.body and "grounding" in warn.body
    assert (warn.attributes["status"], warn.attributes["severity"]) == ("CHECK_FAILED", "WARN")
    assert error.attributes["severity"] == "ERROR"
    with pytest.raises(ValueError):
        check_failed_notification(FILE, "77", "sections", "document", "INFO", "x", RUN_URL)


def test_subjects_stay_one_line_under_the_sns_limit():
    long_name = "Reunião de transferência de conhecimento 🚀 " * 5 + ".mp4"
    subject = _completed(long_name).subject
    assert _utf16_length(subject) <= SUBJECT_MAX_LENGTH
    assert subject.startswith("✅ Video Processing Completed - Reunião de transferência")
    assert subject.endswith("…")

    multi_line = failed_notification("aula\n01\r\t.mp4", "1", "video", "x", RUN_URL).subject
    assert multi_line == "❌ Video Processing Failed - aula 01 .mp4"


def test_the_notification_model_rejects_what_sns_would():
    with pytest.raises(ValidationError):
        Notification(subject="two\nlines", body="b")
    with pytest.raises(ValidationError):
        Notification(subject="x" * 100, body="b")
    with pytest.raises(ValidationError):
        Notification(subject="ok", body="b", attributes={"execution_id": ""})
    assert (
        Notification(subject="x" * SUBJECT_MAX_LENGTH, body="b").subject == "x" * SUBJECT_MAX_LENGTH
    )


def test_format_duration():
    assert format_duration(0) == "00:00:00"
    assert format_duration(59.6) == "00:01:00"
    assert format_duration(25 * 3600 + 61) == "25:01:01"
    assert format_duration(None) == "n/d"


def test_log_file_notifier_appends_json_lines(tmp_path):
    notifier = LogFileNotifier(tmp_path / "state" / "notifications.log")
    first = notifier.send(_completed())
    second = notifier.send(failed_notification(FILE, "4f1d", "draft", "Bedrock throttled", RUN_URL))

    lines = (tmp_path / "state" / "notifications.log").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    assert [record["message_id"] for record in records] == [first, second]
    assert first != second
    assert records[0]["subject"] == f"✅ Video Processing Completed - {FILE}"
    assert records[0]["attributes"]["cost_usd"] == "0.123450"
    assert "Bedrock throttled" in records[1]["body"]
    assert all(record["sent_at"].endswith("+00:00") for record in records)


def test_sns_notifier_delivers_subject_body_and_attributes(aws_env):
    sns = boto3.client("sns")
    sqs = boto3.client("sqs")
    topic_arn = sns.create_topic(Name="techne-notifications")["TopicArn"]
    queue_url = sqs.create_queue(QueueName="techne-notifications-probe")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"
    ]["QueueArn"]
    sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn)
    # The longest subject we build must still be accepted.
    notification = _completed("Gravação da sessão de troubleshooting do cluster " * 4 + ".mp4")

    message_id = SnsNotifier(topic_arn).send(notification)

    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"]
    envelope = json.loads(messages[0]["Body"])
    assert envelope["MessageId"] == message_id
    assert envelope["Subject"] == notification.subject
    assert envelope["Message"] == notification.body
    attributes = envelope["MessageAttributes"]
    assert attributes["cost_usd"] == {"Type": "Number", "Value": "0.123450"}
    assert attributes["status"] == {"Type": "String", "Value": "COMPLETED"}
    assert attributes["execution_id"] == {"Type": "String", "Value": "4f1c"}


def test_notifier_resource_builds_the_profile_notifier_once(tmp_path):
    resource = NotifierResource(state_dir=str(tmp_path / "state"))
    local = resource.get()
    assert resource.get() is local
    assert isinstance(local, LogFileNotifier)
    assert local.path == tmp_path / "state" / "notifications.log"

    topic = "arn:aws:sns:us-east-1:123456789012:techne"
    aws = NotifierResource(profile="aws", topic_arn=topic).get()
    assert isinstance(aws, SnsNotifier) and aws.topic_arn == topic

    with pytest.raises(InputError, match="TECHNE_NOTIFY_TOPIC_ARN"):
        NotifierResource(profile="aws").get()
