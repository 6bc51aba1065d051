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


BATCH_ROLE = "arn:aws:iam::123456789012:role/techne-assets-dev-bedrock-batch"


def batch_factory(list_jobs_error: str | None = None):
    """The Bedrock runtime as in stubbed_factory; the control plane's ListModelInvocationJobs
    (moto has no batch jobs) stubbed to answer or to refuse with `list_jobs_error`."""
    runtime_factory = stubbed_factory(bedrock_ok=True)
    control = boto3.client("bedrock", region_name="us-east-1")
    stub = Stubber(control)
    if list_jobs_error is None:
        stub.add_response("list_model_invocation_jobs", {"invocationJobSummaries": []}, {"maxResults": 1})
    else:
        stub.add_client_error("list_model_invocation_jobs", list_jobs_error,
                              "not authorized to perform: bedrock:ListModelInvocationJobs", 403)
    stub.activate()
    calls: list[str] = []
    control.meta.events.register("before-parameter-build", lambda model, **_: calls.append(model.name))
    return (lambda service: control if service == "bedrock" else runtime_factory(service)), calls


def test_batch_is_reported_unavailable_with_the_reason_and_never_fails_doctor(aws_env):
    factory, calls = batch_factory()
    cases = {
        "TECHNE_BATCH_ROLE_ARN is not set": aws_settings(),
        f"{MODEL} is not in TECHNE_BATCH_MODELS": aws_settings(batch_role_arn=BATCH_ROLE,
                                                                batch_models=["anthropic.other-model"]),
        "batch needs an S3 scratch store": aws_settings(batch_role_arn=BATCH_ROLE, scratch_uri="data/scratch"),
    }
    for reason, settings in cases.items():
        line = by_name(diagnose(settings, client=factory))["bedrock batch"]
        assert (line.ok, line.required) == (False, False), reason
        assert reason in line.detail and "on-demand" in line.detail
        assert "TECHNE_BATCH_ROLE_ARN" in line.fix
    assert calls == []  # no probe while batch is unavailable


def test_batch_available_probes_list_model_invocation_jobs(aws_env):
    factory, calls = batch_factory()
    line = by_name(diagnose(aws_settings(batch_role_arn=BATCH_ROLE), client=factory))["bedrock batch"]
    assert calls == ["ListModelInvocationJobs"]
    assert line.ok and line.checked
    assert MODEL in line.detail and BATCH_ROLE in line.detail and "bedrock:ListModelInvocationJobs" in line.detail


def test_batch_without_the_permission_says_which_and_how_to_fix_it(aws_env):
    factory, _ = batch_factory(list_jobs_error="AccessDeniedException")
    line = by_name(diagnose(aws_settings(batch_role_arn=BATCH_ROLE), client=factory))["bedrock batch"]
    assert not line.ok and not line.required
    assert "bedrock:ListModelInvocationJobs: AccessDeniedException" in line.detail
    assert "bedrock-batch policy" in line.fix
