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


def stubbed_factory(bedrock_ok: bool):
    """Real clients for what moto serves over HTTP; Stubber-checked ones for Bedrock and Transcribe."""
    bedrock = boto3.client("bedrock", region_name="us-east-1")
    transcribe = boto3.client("transcribe", region_name="us-east-1")
    bedrock_stub, transcribe_stub = Stubber(bedrock), Stubber(transcribe)
    if bedrock_ok:
        bedrock_stub.add_response(
            "get_inference_profile",
            {
                "inferenceProfileName": "US Claude Sonnet 4",
                "inferenceProfileArn": f"arn:aws:bedrock:us-east-1:123456789012:inference-profile/{MODEL}",
                "models": [{"modelArn": "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-sonnet-4-20250514-v1:0"}],
                "inferenceProfileId": MODEL,
                "status": "ACTIVE",
                "type": "SYSTEM_DEFINED",
            },
            {"inferenceProfileIdentifier": MODEL},
        )
    else:
        bedrock_stub.add_client_error(
            "get_inference_profile", "AccessDeniedException",
            "You don't have access to the model with the specified model ID.", 403,
        )
    transcribe_stub.add_response("list_transcription_jobs", {"TranscriptionJobSummaries": []}, {"MaxResults": 1})
    bedrock_stub.activate()
    transcribe_stub.activate()
    special = {"bedrock": bedrock, "transcribe": transcribe}
    return lambda service: special.get(service) or boto3.client(service)


def aws_settings(**overrides) -> Settings:
    values = dict(
        profile="aws",
        input_uri="s3://techne-input/",
        output_uri="s3://techne-output/",
        work_uri="s3://techne-work/",
        tracking_table="techne-tracking-dev",
        notify_topic_arn="arn:aws:sns:us-east-1:123456789012:techne-dev",
    )
    return Settings(**(values | overrides))


def test_aws_profile_reports_each_missing_resource_with_a_fix(aws_env):
    findings = by_name(diagnose(aws_settings(), client=stubbed_factory(bedrock_ok=False)))
    assert findings["credentials"].ok
    for name in ("input", "output", "work", "tracking table", "notification topic", "bedrock model"):
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
