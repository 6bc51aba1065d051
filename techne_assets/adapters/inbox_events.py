"""S3 event notifications read from SQS, for buckets too large to list every tick."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import unquote_plus

import boto3
from pydantic import BaseModel

SQS_BATCH = 10  # the most SQS returns per receive


class S3ObjectCreated(BaseModel):
    bucket: str
    key: str
    size: int
    etag: str
    event_time: datetime


def parse_s3_event_message(body: str) -> list[S3ObjectCreated]:
    """The ObjectCreated records of one message; test events and other events give none."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError:
        return []
    if "Message" in payload and "Records" not in payload:  # delivered through SNS
        return parse_s3_event_message(payload["Message"])
    created = []
    for record in payload.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated"):
            continue
        s3 = record["s3"]
        created.append(
            S3ObjectCreated(
                bucket=s3["bucket"]["name"],
                # S3 URL-encodes keys in notifications, with '+' for spaces.
                key=unquote_plus(s3["object"]["key"]),
                size=int(s3["object"].get("size", 0)),
                etag=str(s3["object"].get("eTag", "")).strip('"'),
                event_time=record["eventTime"],
            )
        )
    return created


def receive_s3_events(queue_url: str, *, max_events: int) -> list[S3ObjectCreated]:
    """Receives up to about `max_events` creations and deletes their messages.

    Deleting before the runs start makes delivery at-most-once from SQS's side; the sensor's run
    keys make a redelivered event harmless, and a lost one is found again by a backfill.
    """
    sqs = boto3.client("sqs")
    events: list[S3ObjectCreated] = []
    while len(events) < max_events:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=SQS_BATCH, WaitTimeSeconds=0)
        messages = reply.get("Messages", [])
        if not messages:
            break
        for message in messages:
            events.extend(parse_s3_event_message(message["Body"]))
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
        )
    return events
