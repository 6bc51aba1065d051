"""S3 event notifications through SQS (moto over HTTP): the sensor's large-bucket mode."""

import json

import boto3

from techne_assets.adapters.inbox_events import parse_s3_event_message, receive_s3_events


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
    events = receive_s3_events(queue_url, max_events=50)
    assert sorted(e.key for e in events) == sorted(keys)
    assert all(e.bucket == "techne-input" and e.size == len(b"conteudo") and e.etag for e in events)
    # Consumed: the next tick sees nothing.
    assert receive_s3_events(queue_url, max_events=50) == []


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
    assert parse_s3_event_message("not json") == []
