"""`techne doctor` finds what is missing and says how to fix it."""

import boto3
from botocore.stub import Stubber

from techne_assets.adapters.doctor import diagnose
from techne_assets.settings import Settings

MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"


def by_name(findings):
    return {f.name: f for f in findings}


def test_local_profile_checks_programs_and_the_inbox(tmp_path):
    settings = Settings(input_uri=str(tmp_path / "falta"), output_uri=str(tmp_path / "out"))
    findings = by_name(diagnose(settings))
    assert findings["ffmpeg"].ok and findings["ffprobe"].ok
    assert not findings["input"].ok and "mkdir -p" in findings["input"].fix
    (tmp_path / "falta").mkdir()
    assert by_name(diagnose(settings))["input"].ok


CONVERSE_REPLY = {
    "output": {"message": {"role": "assistant", "content": [{"text": "o"}]}},
    "stopReason": "max_tokens",
    "usage": {"inputTokens": 8, "outputTokens": 1, "totalTokens": 9},
    "metrics": {"latencyMs": 120},
}


def stubbed_factory(bedrock_ok: bool):
    """Real clients for what moto serves over HTTP (Transcribe too); a Stubber-checked one for
    the Bedrock runtime, which moto lacks."""
    runtime = boto3.client("bedrock-runtime", region_name="us-east-1")
    stub = Stubber(runtime)
    expected = {"modelId": MODEL, "messages": [{"role": "user", "content": [{"text": "ok"}]}],
                "inferenceConfig": {"maxTokens": 1}}
    if bedrock_ok:
        stub.add_response("converse", CONVERSE_REPLY, expected)
    else:
        stub.add_client_error(
            "converse", "AccessDeniedException",
            "You don't have access to the model with the specified model ID.", 403,
        )
    stub.activate()
    return lambda service: runtime if service == "bedrock-runtime" else boto3.client(service)


def aws_settings(**overrides) -> Settings:
    values = dict(
        profile="aws",
        input_uri="s3://techne-input/",
        output_uri="s3://techne-output/",
        store_uri="s3://techne-work/store/",
        scratch_uri="s3://techne-work/scratch/",
        tracking_table="techne-tracking-dev",
        notify_topic_arn="arn:aws:sns:us-east-1:123456789012:techne-dev",
    )
    return Settings(**(values | overrides))


def test_aws_profile_reports_each_missing_resource_with_a_fix(aws_env):
    findings = by_name(diagnose(aws_settings(), client=stubbed_factory(bedrock_ok=False)))
    assert findings["credentials"].ok
    for name in ("input", "output", "store", "scratch", "tracking table", "notification topic",
                 "bedrock model"):
        assert not findings[name].ok, name
        assert findings[name].fix
    assert "AccessDeniedException" in findings["bedrock model"].detail
    assert findings["transcribe"].ok


def test_aws_profile_all_green_when_the_stack_exists(aws_env):
    for bucket in ("techne-input", "techne-output", "techne-work"):
        boto3.client("s3").create_bucket(Bucket=bucket)
    boto3.client("dynamodb").create_table(
        TableName="techne-tracking-dev",
        KeySchema=[{"AttributeName": "execution_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "execution_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    topic = boto3.client("sns").create_topic(Name="techne-dev")["TopicArn"]
    findings = diagnose(aws_settings(notify_topic_arn=topic), client=stubbed_factory(bedrock_ok=True))
    assert [(f.name, f.detail) for f in findings if not f.ok and f.required] == []
