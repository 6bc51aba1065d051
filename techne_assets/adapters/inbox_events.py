"""S3 event notifications read from SQS, for buckets too large to list every tick.

A message that is not an S3 event notification (bad JSON, a record without its `s3` part, a
non-numeric size) can never become valid by being read again: it is reported, deleted with the
rest of its batch, and never stops the other messages of the batch from being handled.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any
from urllib.parse import unquote_plus

import boto3
from pydantic import BaseModel, ValidationError

SQS_BATCH = 10  # the most SQS returns per receive

logger = logging.getLogger(__name__)


class S3ObjectCreated(BaseModel):
    bucket: str
    key: str
    size: int
    etag: str
    event_time: datetime


class MalformedEventError(ValueError):
    """The message body is not an S3 event notification."""


class RejectedMessage(BaseModel):
    message_id: str
    reason: str


class ReceivedBatch(BaseModel):
    events: list[S3ObjectCreated] = []
    rejected: list[RejectedMessage] = []


def _created(record: dict[str, Any]) -> S3ObjectCreated:
    try:
        s3 = record["s3"]
        return S3ObjectCreated(
            bucket=s3["bucket"]["name"],
            # S3 URL-encodes keys in notifications, with '+' for spaces.
            key=unquote_plus(s3["object"]["key"]),
            size=int(s3["object"].get("size", 0)),
            etag=str(s3["object"].get("eTag", "")).strip('"'),
            event_time=record["eventTime"],
        )
    except (KeyError, TypeError, ValueError, ValidationError) as error:
        detail = f"missing {error}" if isinstance(error, KeyError) else " ".join(str(error).split())
        raise MalformedEventError(f"ObjectCreated record without a usable s3 part: {detail}") from None


def parse_s3_event_message(body: str) -> list[S3ObjectCreated]:
    """The ObjectCreated records of one message; test events and other events give none.

    Raises `MalformedEventError` when the body is not an S3 event notification."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as error:
        raise MalformedEventError(f"not JSON ({error.msg} at character {error.pos})") from None
    if not isinstance(payload, dict):
        raise MalformedEventError(f"a JSON {type(payload).__name__}, not an event object")
    if "Message" in payload and "Records" not in payload:  # delivered through SNS
        return parse_s3_event_message(str(payload["Message"]))
    records = payload.get("Records", [])
    if not isinstance(records, list):
        raise MalformedEventError("Records is not a list")
    return [
        _created(record)
        for record in records
        if isinstance(record, dict) and str(record.get("eventName", "")).startswith("ObjectCreated")
    ]


def receive_s3_events(
    queue_url: str, *, max_events: int, client: Any | None = None, region: str | None = None
) -> ReceivedBatch:
    """Receives up to about `max_events` creations and deletes their messages, malformed ones too.

    Deleting before the runs start makes delivery at-most-once from SQS's side; the sensor's run
    keys make a redelivered event harmless, and a lost one is found again by a backfill.
    """
    sqs = client or boto3.client("sqs", region_name=region)
    batch = ReceivedBatch()
    while len(batch.events) < max_events:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=SQS_BATCH, WaitTimeSeconds=0)
        messages = reply.get("Messages", [])
        if not messages:
            break
        for message in messages:
            try:
                batch.events.extend(parse_s3_event_message(message.get("Body", "")))
            except MalformedEventError as error:
                message_id = message.get("MessageId", "?")
                logger.warning("S3 event message %s dropped: %s", message_id, error)
                batch.rejected.append(RejectedMessage(message_id=message_id, reason=str(error)))
        deleted = sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
        for failure in deleted.get("Failed", []):
            # Left in the queue: redelivered later, or moved to the dead-letter queue by its policy.
            logger.warning("S3 event message not deleted (%s): %s", failure.get("Code"), failure.get("Message"))
    return batch
