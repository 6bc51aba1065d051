"""IAM and doctor agree: the permission table equals the task roles' policies in the template, and
`techne doctor` calls exactly the table's probes (recorded from the API calls it really makes)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
from botocore.stub import Stubber
from cfnlint.decode import cfn_yaml

from techne_assets.adapters.doctor import diagnose
from techne_assets.adapters.permissions import (
    DAEMON,
    PERMISSIONS,
    RUN,
    WEBSERVER,
    granted_to,
    probed_permissions,
)
from techne_assets.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"
TASK_ROLES = (RUN, DAEMON, WEBSERVER)
BATCH_ROLE = "arn:aws:iam::123456789012:role/techne-assets-dev-bedrock-batch"


def _actions(statements: list[dict]) -> set[str]:
    found = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        action = statement["Action"]
        found.update([action] if isinstance(action, str) else action)
    return found


def template_grants() -> dict[str, set[str]]:
    """Actions of each task role: its inline policies plus the managed policies it references."""
    resources = json.loads(json.dumps(cfn_yaml.load(str(ROOT / "infra" / "template.yaml"))))["Resources"]
    grants = {}
    for role in TASK_ROLES:
        properties = resources[role]["Properties"]
        statements = [s for p in properties.get("Policies", []) for s in p["PolicyDocument"]["Statement"]]
        for managed in properties.get("ManagedPolicyArns", []):
            assert set(managed) == {"Ref"}, f"{role}: only the template's own managed policies are expected"
            statements += resources[managed["Ref"]]["Properties"]["PolicyDocument"]["Statement"]
        grants[role] = _actions(statements)
    return grants


def test_the_table_is_exactly_what_the_template_grants_each_task_role():
    grants = template_grants()
    for role in TASK_ROLES:
        assert granted_to(role) - grants[role] == set(), f"{role}: in the table, not in the template"
        assert grants[role] - granted_to(role) == set(), f"{role}: in the template, not in the table"


def test_the_permissions_the_issue_names_are_settled():
    run = granted_to(RUN)
    assert "transcribe:DeleteTranscriptionJob" in run  # used to restart a FAILED job
    assert "transcribe:ListTranscriptionJobs" not in run and "bedrock:GetInferenceProfile" not in run
    assert len({p.action for p in PERMISSIONS}) == len(PERMISSIONS)
    assert all(p.used_for for p in PERMISSIONS)


def test_batch_jobs_are_managed_by_the_daemon_alone_and_it_passes_only_the_batch_role():
    batch_actions = {"bedrock:CreateModelInvocationJob", "bedrock:GetModelInvocationJob",
                     "bedrock:StopModelInvocationJob", "bedrock:ListModelInvocationJobs"}
    assert batch_actions <= granted_to(DAEMON)
    assert batch_actions & (granted_to(RUN) | granted_to(WEBSERVER)) == set()
    resources = json.loads(json.dumps(cfn_yaml.load(str(ROOT / "infra" / "template.yaml"))))["Resources"]
    statements = [s for p in resources[DAEMON]["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
    to_bedrock = [s for s in statements if s["Action"] == "iam:PassRole"
                  and s["Condition"]["StringEquals"]["iam:PassedToService"] == "bedrock.amazonaws.com"]
    assert [s["Resource"] for s in to_bedrock] == [{"Fn::GetAtt": ["BatchServiceRole", "Arn"]}]


def test_the_code_calls_delete_transcription_job_so_the_role_must_grant_it():
    source = (ROOT / "techne_assets" / "adapters" / "transcription.py").read_text()
    assert "delete_transcription_job(" in source


class RecordingFactory:
    """Clients whose API calls are recorded as (service, operation); the Bedrock runtime and the
    batch jobs of the Bedrock control plane (which moto lacks) are stubbed, everything else is
    moto over HTTP."""

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.runtime = boto3.client("bedrock-runtime", region_name="us-east-1")
        stub = Stubber(self.runtime)
        stub.add_response("converse", {
            "output": {"message": {"role": "assistant", "content": [{"text": "o"}]}},
            "stopReason": "max_tokens",
            "usage": {"inputTokens": 8, "outputTokens": 1, "totalTokens": 9},
            "metrics": {"latencyMs": 100},
        })
        stub.activate()
        self._record(self.runtime)
        self.control = boto3.client("bedrock", region_name="us-east-1")
        batch_stub = Stubber(self.control)
        batch_stub.add_response("list_model_invocation_jobs", {"invocationJobSummaries": []}, {"maxResults": 1})
        batch_stub.activate()
        self._record(self.control)

    def _record(self, client):
        service = client.meta.service_model.service_name
        client.meta.events.register(
            "before-parameter-build", lambda model, **_: self.calls.append((service, model.name))
        )
        return client

    def __call__(self, service: str):
        stubbed = {"bedrock-runtime": self.runtime, "bedrock": self.control}
        return stubbed.get(service) or self._record(boto3.client(service))


def full_stack(tmp_path) -> Settings:
    """Every AWS part configured: buckets, tables, topic, queue, Transcribe, Bedrock and its batch
    jobs."""
    s3, dynamodb = boto3.client("s3"), boto3.client("dynamodb")
    for bucket in ("techne-input", "techne-output", "techne-work"):
        s3.create_bucket(Bucket=bucket)
    for table, key in (("techne-tracking", "execution_id"), ("techne-bedrock-state", "pk")):
        dynamodb.create_table(TableName=table, KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                              AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                              BillingMode="PAY_PER_REQUEST")
    topic = boto3.client("sns").create_topic(Name="techne")["TopicArn"]
    queue = boto3.client("sqs").create_queue(QueueName="techne-events")["QueueUrl"]
    return Settings(profile="aws", input_uri="s3://techne-input/", output_uri="s3://techne-output/",
                    store_uri="s3://techne-work/store/", scratch_uri="s3://techne-work/scratch/",
                    tracking_table="techne-tracking", bedrock_state_table="techne-bedrock-state",
                    notify_topic_arn=topic, sensor_mode="sqs", sqs_queue_url=queue,
                    batch_role_arn=BATCH_ROLE, state_dir=str(tmp_path / "state"))


def test_doctor_calls_exactly_the_probes_of_the_table(aws_env, tmp_path):
    settings = full_stack(tmp_path)
    factory = RecordingFactory()
    findings = diagnose(settings, client=factory)
    assert [(f.name, f.detail) for f in findings if not f.ok and f.required] == []
    probes = probed_permissions()
    called = set(factory.calls) - {("sts", "GetCallerIdentity")}  # needs no permission
    assert called == set(probes), "doctor and the permission table disagree"
    # Each probed permission is held by a task role.
    assert all(any(role in p.roles for role in TASK_ROLES) for p in PERMISSIONS if p.probe)


def test_doctor_on_moto_reports_the_missing_bedrock_runtime_as_not_checked(aws_env, tmp_path):
    """moto has no Bedrock runtime and answers with a bare 500: that is not a failure."""
    settings = full_stack(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHNE_")}
    env.update(TECHNE_PROFILE="aws", TECHNE_INPUT_URI=settings.input_uri, TECHNE_OUTPUT_URI=settings.output_uri,
               TECHNE_STORE_URI=settings.store_uri, TECHNE_SCRATCH_URI=settings.scratch_uri,
               TECHNE_TRACKING_TABLE="techne-tracking", TECHNE_NOTIFY_TOPIC_ARN=settings.notify_topic_arn,
               TECHNE_STATE_DIR=str(tmp_path / "state"))
    result = subprocess.run([sys.executable, "-m", "techne_assets.cli", "doctor"], env=env, cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    (line,) = [line for line in result.stdout.splitlines() if "bedrock model" in line]
    assert line.startswith("?? ") and "not checked" in line and "Converse" in line
    assert "!!" not in result.stdout
