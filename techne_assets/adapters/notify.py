"""Sending notifications: a JSON-lines log file, or an SNS topic (e-mail subscribers in AWS)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Protocol

import boto3

from techne_assets.core.errors import InputError
from techne_assets.core.notifications import Notification

# Attributes sent as SNS Number, so subscription filter policies can compare them numerically.
NUMBER_ATTRIBUTES = frozenset({"cost_usd"})


class Notifier(Protocol):
    def send(self, notification: Notification) -> str:
        """Sends the notification; returns its message id."""
        ...


class LogFileNotifier:
    """Appends one JSON line per notification to a file."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def send(self, notification: Notification) -> str:
        message_id = str(uuid.uuid4())
        line = json.dumps(
            {
                "message_id": message_id,
                "sent_at": datetime.now(UTC).isoformat(timespec="microseconds"),
                **notification.model_dump(),
            },
            ensure_ascii=False,
        )
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one line in append mode: concurrent processes do not interleave lines.
        with open(self.path, "a", encoding="utf-8") as log:
            log.write(line + "\n")
        return message_id


class SnsNotifier:
    """Publishes to an SNS topic; attributes become message attributes."""

    def __init__(self, topic_arn: str, region: str | None = None):
        self.topic_arn = topic_arn
        self.region = region

    @cached_property
    def _client(self):
        return boto3.client("sns", region_name=self.region)

    def send(self, notification: Notification) -> str:
        attributes = {
            name: {
                "DataType": "Number" if name in NUMBER_ATTRIBUTES else "String",
                "StringValue": value,
            }
            for name, value in notification.attributes.items()
        }
        response = self._client.publish(
            TopicArn=self.topic_arn,
            Subject=notification.subject,
            Message=notification.body,
            MessageAttributes=attributes,
        )
        return response["MessageId"]


def notifier_for(
    profile: str, state_dir: str, topic_arn: str | None, region: str | None = None
) -> Notifier:
    """aws: the SNS topic `topic_arn`; local: `notifications.log` in `state_dir`."""
    if profile == "aws":
        if not topic_arn:
            raise InputError(
                "TECHNE_NOTIFY_TOPIC_ARN", "the aws profile needs the SNS topic for notifications"
            )
        return SnsNotifier(topic_arn, region)
    return LogFileNotifier(Path(state_dir) / "notifications.log")
