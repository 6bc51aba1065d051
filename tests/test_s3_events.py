"""S3 event notifications through SQS (moto over HTTP): the sensor's large-bucket mode."""

import json

import boto3
import dagster as dg
import pytest

from techne_assets.adapters.inbox_events import (
    MalformedEventError,
    parse_s3_event_message,
    receive_s3_events,
)


def test_real_s3_notifications_reach_the_queue_and_parse(aws_env):
    s3, sqs = boto3.client("s3"), boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="techne-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.create_bucket(Bucket="techne-input")
    s3.put_bucket_notification_configuration(
        Bucket="techne-input",
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    keys = ["Treinamento Configuração [parte 1].mp4", "2024/aula+extra.mov", "notas.txt"]
    for key in keys:
        s3.put_object(Bucket="techne-input", Key=key, Body=b"conteudo")
    events = receive_s3_events(queue_url, max_events=50).events
    assert sorted(e.key for e in events) == sorted(keys)
    assert all(e.bucket == "techne-input" and e.size == len(b"conteudo") and e.etag for e in events)
    # Consumed: the next tick sees nothing.
    assert receive_s3_events(queue_url, max_events=50).events == []


def test_test_events_and_deletions_give_nothing_and_sns_wrapping_is_unwrapped():
    assert parse_s3_event_message(json.dumps({"Service": "Amazon S3", "Event": "s3:TestEvent"})) == []
    deletion = {"Records": [{"eventName": "ObjectRemoved:Delete", "eventTime": "2026-11-01T10:00:00.000Z",
                             "s3": {"bucket": {"name": "b"}, "object": {"key": "a.mp4"}}}]}
    assert parse_s3_event_message(json.dumps(deletion)) == []
    created = {"Records": [{"eventName": "ObjectCreated:CompleteMultipartUpload",
                            "eventTime": "2026-11-01T10:00:00.000Z",
                            "s3": {"bucket": {"name": "b"},
                                   "object": {"key": "Reuni%C3%A3o+de+suporte.mp4", "size": 5, "eTag": "abc-2"}}}]}
    wrapped = json.dumps({"Type": "Notification", "Message": json.dumps(created)})
    (event,) = parse_s3_event_message(wrapped)
    assert event.key == "Reunião de suporte.mp4" and event.etag == "abc-2"
    with pytest.raises(MalformedEventError, match="not JSON"):
        parse_s3_event_message("not json")


def created_event(key: str, size: int = 5) -> str:
    return json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-11-01T10:00:00.000Z",
                                    "s3": {"bucket": {"name": "techne-input"},
                                           "object": {"key": key, "size": size, "eTag": f"etag-{key}"}}}]})


MALFORMED = [
    "not json at all",
    json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-11-01T10:00:00Z"}]}),  # no s3
    json.dumps({"Records": [{"eventName": "ObjectCreated:Put", "eventTime": "2026-11-01T10:00:00Z",
                             "s3": {"bucket": {"name": "b"}, "object": {"key": "x.mp4", "size": "big"}}}]}),
    json.dumps([1, 2, 3]),
]


def test_a_malformed_message_is_dropped_and_never_blocks_its_batch(aws_env):
    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="techne-events")["QueueUrl"]
    bodies = [created_event("aula 1.mp4"), *MALFORMED, created_event("aula 2.mp4"), created_event("aula 3.mov")]
    for body in bodies:  # one batch of 7 (SQS returns up to 10)
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    batch = receive_s3_events(queue_url, max_events=50)
    assert sorted(e.key for e in batch.events) == ["aula 1.mp4", "aula 2.mp4", "aula 3.mov"]
    assert len(batch.rejected) == len(MALFORMED)
    reasons = " | ".join(r.reason for r in batch.rejected)
    assert "not JSON" in reasons and "missing 's3'" in reasons and "JSON list" in reasons
    # Every message, the malformed ones too, left the queue: nothing is redelivered.
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    assert attributes == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_the_sqs_sensor_requests_the_valid_videos_of_a_mixed_batch(aws_env, monkeypatch, tmp_path):
    from techne_assets.defs.sensors import s3_events_sensor

    sqs = boto3.client("sqs")
    queue_url = sqs.create_queue(QueueName="techne-events")["QueueUrl"]
    for body in [MALFORMED[1], created_event("videos/aula 1.mp4"), MALFORMED[0], created_event("videos/notas.txt")]:
        sqs.send_message(QueueUrl=queue_url, MessageBody=body)
    monkeypatch.setenv("TECHNE_SENSOR_MODE", "sqs")
    monkeypatch.setenv("TECHNE_SQS_QUEUE_URL", queue_url)
    monkeypatch.setenv("TECHNE_INPUT_URI", "s3://techne-input/videos/")
    monkeypatch.setenv("TECHNE_STORE_URI", str(tmp_path / "store"))
    with dg.DagsterInstance.ephemeral() as instance:
        result = s3_events_sensor(dg.build_sensor_context(instance=instance))
    assert [r.partition_key for r in result.run_requests] == ["aula 1.mp4"]
    assert json.loads(result.cursor) == {"last_batch": 2, "rejected": 2}
