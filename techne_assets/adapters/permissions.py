"""The IAM permissions of the ECS task roles: one table, read by `techne doctor` and by the tests.

Each row is one action granted to one or more task roles of infra/template.yaml (by logical id),
what the code does with it, and — when a side-effect-free call can show that the permission
works — the API call `techne doctor` makes to check it. tests/test_permissions.py compares the
table with the template's policies and with the calls doctor really makes, so a permission the
code starts using (or stops using) shows up as a difference in one place. To grant a new one,
add a row here and the action to the role's policy in the template.
"""

from __future__ import annotations

from dataclasses import dataclass

RUN = "RunTaskRole"
DAEMON = "DaemonTaskRole"
WEBSERVER = "WebserverTaskRole"
# AppDataPolicy: the data the run tasks and the daemon's sensors share.
APP_DATA = (RUN, DAEMON)


@dataclass(frozen=True)
class Probe:
    """The call doctor makes to check a permission (botocore service and operation names)."""

    service: str
    operation: str


@dataclass(frozen=True)
class Permission:
    action: str
    roles: tuple[str, ...]
    used_for: str
    probe: Probe | None = None


PERMISSIONS: tuple[Permission, ...] = (
    # S3 (AppDataPolicy)
    Permission("s3:GetObject", (*APP_DATA, WEBSERVER),
               "read videos, captions, asset values, model replies; the UI links documents"),
    Permission("s3:PutObject", APP_DATA, "write asset values, audio, transcripts, documents"),
    Permission("s3:AbortMultipartUpload", APP_DATA, "clean up a failed multipart upload"),
    Permission("s3:DeleteObject", APP_DATA, "replace a published document; drop staged files"),
    Permission("s3:ListBucket", APP_DATA, "list the input (sensor, backfill); HeadObject of missing keys",
               Probe("s3", "HeadBucket")),
    # DynamoDB: tracking table and shared Bedrock state (AppDataPolicy)
    Permission("dynamodb:GetItem", APP_DATA, "read a tracking record; read the limiter/breaker state"),
    Permission("dynamodb:PutItem", APP_DATA, "write a tracking record; write the limiter/breaker state"),
    Permission("dynamodb:UpdateItem", APP_DATA, "update a tracking record"),
    Permission("dynamodb:Query", APP_DATA, "runs of one video (video_key-index)"),
    Permission("dynamodb:DescribeTable", APP_DATA, "techne doctor: the tables exist",
               Probe("dynamodb", "DescribeTable")),
    # SNS (AppDataPolicy)
    Permission("sns:Publish", APP_DATA, "notifications"),
    Permission("sns:GetTopicAttributes", APP_DATA, "techne doctor: the topic exists",
               Probe("sns", "GetTopicAttributes")),
    # Models and transcription (run tasks)
    Permission("bedrock:InvokeModel", (RUN,), "Converse with the configured model",
               Probe("bedrock-runtime", "Converse")),
    Permission("bedrock:InvokeModelWithResponseStream", (RUN,), "ConverseStream with the configured model"),
    # Bedrock batch inference (the batch sensor, in the daemon, runs the jobs of archive backfills)
    Permission("bedrock:CreateModelInvocationJob", (DAEMON,),
               "submit one batch job per writer stage of a `techne backfill --via batch`"),
    Permission("bedrock:GetModelInvocationJob", (DAEMON,), "follow a batch job's status and message"),
    Permission("bedrock:StopModelInvocationJob", (DAEMON,), "stop a batch job"),
    Permission("bedrock:TagResource", (DAEMON,), "tag a batch job with its batch group at creation"),
    Permission("bedrock:ListModelInvocationJobs", (DAEMON,), "techne doctor: batch jobs may be managed",
               Probe("bedrock", "ListModelInvocationJobs")),
    Permission("transcribe:StartTranscriptionJob", (RUN,), "transcribe the extracted audio"),
    Permission("transcribe:GetTranscriptionJob", (RUN,), "wait for a job; reuse a COMPLETED one",
               Probe("transcribe", "GetTranscriptionJob")),
    Permission("transcribe:DeleteTranscriptionJob", (RUN,), "restart a FAILED job under its name"),
    # S3 events queue (daemon, TECHNE_SENSOR_MODE=sqs)
    Permission("sqs:ReceiveMessage", (DAEMON,), "read S3 event notifications"),
    Permission("sqs:DeleteMessage", (DAEMON,), "delete handled and malformed events"),
    Permission("sqs:GetQueueAttributes", (DAEMON,), "techne doctor: the queue exists",
               Probe("sqs", "GetQueueAttributes")),
    # dagster-aws EcsRunLauncher (daemon launches and watches runs; the UI terminates them)
    Permission("ecs:RunTask", (DAEMON,), "launch a run task"),
    Permission("ecs:TagResource", (DAEMON,), "tag the run task at launch"),
    Permission("ecs:DescribeTasks", (DAEMON, WEBSERVER), "run monitoring; terminate from the UI"),
    Permission("ecs:StopTask", (DAEMON, WEBSERVER), "terminate a run"),
    Permission("ecs:ListTasks", (DAEMON,), "the daemon's own task, for its network configuration"),
    Permission("ecs:DescribeTaskDefinition", (DAEMON, WEBSERVER), "the launcher's constructor"),
    Permission("ec2:DescribeNetworkInterfaces", (DAEMON,), "copy the daemon's subnets to run tasks"),
    Permission("iam:PassRole", (DAEMON,), "start run tasks with their task and execution roles; "
               "give Bedrock batch jobs the batch service role (BatchServiceRole, nothing else)"),
    Permission("logs:GetLogEvents", (DAEMON, WEBSERVER), "failure messages of run tasks"),
    # ECS Exec port forwarding into the webserver (operators reach the UI through SSM)
    Permission("ssmmessages:CreateControlChannel", (WEBSERVER,), "ECS Exec port forwarding"),
    Permission("ssmmessages:CreateDataChannel", (WEBSERVER,), "ECS Exec port forwarding"),
    Permission("ssmmessages:OpenControlChannel", (WEBSERVER,), "ECS Exec port forwarding"),
    Permission("ssmmessages:OpenDataChannel", (WEBSERVER,), "ECS Exec port forwarding"),
)


def granted_to(role: str) -> set[str]:
    return {p.action for p in PERMISSIONS if role in p.roles}


def probe_of(action: str) -> Probe:
    """The doctor call that checks `action` (a KeyError names an action without a probe)."""
    for permission in PERMISSIONS:
        if permission.action == action and permission.probe is not None:
            return permission.probe
    raise KeyError(f"no doctor probe for {action} in techne_assets/adapters/permissions.py")


def probed_permissions() -> dict[tuple[str, str], str]:
    """(service, operation) of every doctor probe → the action it checks."""
    return {(p.probe.service, p.probe.operation): p.action for p in PERMISSIONS if p.probe}
