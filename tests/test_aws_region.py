"""`AWS_REGION` (settings.aws_region) reaches every boto3 client the resources build, even when
boto3's own configuration names another region; the calls go to moto's server over HTTP."""

from __future__ import annotations

import boto3
import pytest

from techne_assets.core.notifications import Notification
from techne_assets.defs.resources import build_resources
from techne_assets.settings import Settings

REGION = "eu-west-1"  # aws_env sets boto3's default, AWS_DEFAULT_REGION, to us-east-1
BUCKET = "techne-region-work"
TABLE = "techne-region-tracking"


@pytest.fixture
def resources(aws_env, tmp_path) -> dict[str, object]:
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
    )
    topic_arn = boto3.client("sns", region_name=REGION).create_topic(Name="techne-region")["TopicArn"]
    settings = Settings(
        profile="aws",
        aws_region=REGION,
        input_uri=f"s3://{BUCKET}/entrada/",
        output_uri=f"s3://{BUCKET}/documentos/",
        store_uri=f"s3://{BUCKET}/store/",
        scratch_uri=f"s3://{BUCKET}/scratch/",
        state_dir=str(tmp_path / "state"),
        tracking_table=TABLE,
        notify_topic_arn=topic_arn,
    )
    return build_resources(settings)


def test_storage_and_transcribe_clients_use_the_configured_region(resources):
    for name in ("input_storage", "output_storage", "asset_store"):
        storage = resources[name].get()
        assert storage._client.meta.region_name == REGION, name
        # One storage, hence one client, per resource.
        assert resources[name].get() is storage
    resources["asset_store"].get().write_bytes("probe.txt", b"ok")
    assert resources["asset_store"].get().read_bytes("probe.txt") == b"ok"
    transcriber = resources["transcriber"].get()
    assert transcriber.client.meta.region_name == REGION


def test_tracking_table_is_created_in_the_configured_region(resources):
    resources["tracking"].get().ensure_table()
    assert TABLE in boto3.client("dynamodb", region_name=REGION).list_tables()["TableNames"]
    assert TABLE not in boto3.client("dynamodb", region_name="us-east-1").list_tables()["TableNames"]


def test_notifications_reach_the_topic_of_the_configured_region(resources):
    # moto keeps topics per region: a us-east-1 client would not find this eu-west-1 topic.
    message_id = resources["notifier"].get().send(
        Notification(subject="Techne", body="corpo", attributes={"status": "COMPLETED"})
    )
    assert message_id
