"""infra/template.yaml: cfn-lint clean, creates in moto's CloudFormation (over HTTP) with both
network options, and holds the protections the product relies on; plus the parameter files,
deploy.sh's parameter conversion and bootstrap order, and teardown.sh.

moto's CloudFormation lacks a few resource types. The variant sent to moto is built by
`moto_variant()` below, which does exactly three things and nothing else:
  1. removes the resources whose types are in MOTO_UNSUPPORTED (moto would skip them silently;
     removing them makes that explicit) and drops them from DependsOn lists; their properties
     are checked on the real template by the structural tests further down;
  2. replaces references to the removed Secrets Manager secret with the ARN of a secret the
     test creates in moto first;
  3. expands Fn::Cidr, which moto does not implement, with Python's ipaddress.
The template is parsed with cfn-lint's decoder (long-form intrinsics) and sent as JSON, because
moto's YAML reader splits `!GetAtt A.B.C` at every dot.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"
TEMPLATE = INFRA / "template.yaml"
sys.path.insert(0, str(INFRA))
import params as infra_params  # noqa: E402

MOTO_UNSUPPORTED = {
    "AWS::EC2::SecurityGroupEgress",
    "AWS::S3::BucketPolicy",
    "AWS::SQS::QueuePolicy",
    "AWS::SecretsManager::Secret",
    "AWS::CloudWatch::Alarm",
}
STACK = "techne-assets-dev"


def _template() -> dict:
    return json.loads(json.dumps(cfn_yaml.load(str(TEMPLATE))))


def _walk(node, fn):
    node = fn(node)
    if isinstance(node, dict):
        return {k: _walk(v, fn) for k, v in node.items()}
    if isinstance(node, list):
        return [_walk(v, fn) for v in node]
    return node


def moto_variant(template: dict, secret_arn: str, vpc_cidr: str) -> tuple[dict, list[str]]:
    tpl = json.loads(json.dumps(template))
    removed = [k for k, v in tpl["Resources"].items() if v["Type"] in MOTO_UNSUPPORTED]
    secrets = [k for k in removed if tpl["Resources"][k]["Type"] == "AWS::SecretsManager::Secret"]
    for key in removed:
        del tpl["Resources"][key]
    for resource in tpl["Resources"].values():
        depends = resource.get("DependsOn")
        if depends is not None:
            depends = [d for d in ([depends] if isinstance(depends, str) else depends) if d not in removed]
            if depends:
                resource["DependsOn"] = depends
            else:
                del resource["DependsOn"]

    def replace(node):
        if isinstance(node, dict) and node.get("Ref") in secrets:
            return secret_arn
        if isinstance(node, dict) and "Fn::Sub" in node and isinstance(node["Fn::Sub"], str):
            text = node["Fn::Sub"]
            for name in secrets:
                text = text.replace("${" + name + "}", secret_arn)
            return {"Fn::Sub": text}
        if isinstance(node, dict) and "Fn::Cidr" in node:
            block, count, bits = node["Fn::Cidr"]
            assert block == {"Ref": "VpcCidr"}
            net = ipaddress.ip_network(vpc_cidr)
            subnets = list(net.subnets(new_prefix=32 - int(bits)))[: int(count)]
            return [str(s) for s in subnets]
        return node

    return _walk(tpl, replace), removed


# ------------------------------------------------------------------ cfn-lint


def test_cfn_lint_reports_no_errors():
    from cfnlint.api import ManualArgs, lint_file

    matches = lint_file(TEMPLATE, config=ManualArgs(regions=["us-east-1", "sa-east-1"]))
    errors = [m for m in matches if m.rule.id.startswith("E")]
    for m in matches:
        if not m.rule.id.startswith("E"):
            print(f"cfn-lint {m.rule.id}: {m.message} (line {m.linenumber})")
    assert not errors, "\n".join(f"{m.rule.id} line {m.linenumber}: {m.message}" for m in errors)


def test_cfn_lint_catches_a_broken_template(tmp_path):
    # The check above can fail: a template with a bad reference yields an error.
    from cfnlint.api import lint_file

    broken = tmp_path / "broken.yaml"
    broken.write_text(TEMPLATE.read_text().replace("!Ref EventsQueue]", "!Ref NoSuchQueue]", 1))
    assert any(m.rule.id.startswith("E") for m in lint_file(broken))


# ------------------------------------------------------------------ moto


def _create_stack(parameters: dict[str, str]) -> tuple[dict, list[str], dict]:
    template = _template()
    secret_arn = boto3.client("secretsmanager").create_secret(
        Name="techne-assets/test/dagster-postgres",
        SecretString=json.dumps({"username": "dagster", "password": "generated-elsewhere"}),
    )["ARN"]
    cidr = parameters.get("VpcCidr", template["Parameters"]["VpcCidr"]["Default"])
    variant, removed = moto_variant(template, secret_arn, cidr)
    cfn = boto3.client("cloudformation")
    cfn.create_stack(
        StackName=STACK,
        TemplateBody=json.dumps(variant),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    stack = cfn.describe_stacks(StackName=STACK)["Stacks"][0]
    assert stack["StackStatus"] == "CREATE_COMPLETE", stack.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    created = {
        r["LogicalResourceId"]
        for r in cfn.list_stack_resources(StackName=STACK)["StackResourceSummaries"]
        if r["ResourceStatus"] == "CREATE_COMPLETE"
    }
    return variant, removed, {"outputs": outputs, "created": created, "secret": secret_arn}


def _expected_resources(variant: dict, conditions_true: set[str]) -> set[str]:
    return {
        k
        for k, v in variant["Resources"].items()
        if "Condition" not in v or v["Condition"] in conditions_true
    }


def _existing_network():
    ec2 = boto3.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="172.31.0.0/16")["Vpc"]["VpcId"]
    a = ec2.create_subnet(VpcId=vpc, CidrBlock="172.31.0.0/20", AvailabilityZone="us-east-1a")
    b = ec2.create_subnet(VpcId=vpc, CidrBlock="172.31.16.0/20", AvailabilityZone="us-east-1b")
    return vpc, [a["Subnet"]["SubnetId"], b["Subnet"]["SubnetId"]]


NETWORK_CASES = {
    "existing-dev": ({"Environment": "dev", "NetworkMode": "existing"}, {"IsNotProd"}),
    "dedicated-prod": (
        {"Environment": "prod", "NetworkMode": "dedicated"},
        {"IsProd", "IsDedicated"},
    ),
    "dedicated-private-endpoints-dev": (
        {"Environment": "dev", "NetworkMode": "dedicated", "PrivateSubnetsWithEndpoints": "true"},
        {"IsNotProd", "IsDedicated", "WithEndpoints"},
    ),
}


@pytest.mark.parametrize("case", list(NETWORK_CASES))
def test_stack_creates_in_moto(aws_env, case):
    params, conditions = NETWORK_CASES[case]
    params = {**params, "NotificationEmail": "ops@example.com"}
    if params["NetworkMode"] == "existing":
        vpc, subnets = _existing_network()
        params.update(VpcId=vpc, SubnetIds=",".join(subnets))
    variant, removed, stack = _create_stack(params)
    outputs, created = stack["outputs"], stack["created"]

    # Every resource of the variant whose condition holds was created; the removed ones are
    # exactly the MOTO_UNSUPPORTED types.
    assert {_template()["Resources"][k]["Type"] for k in removed} == MOTO_UNSUPPORTED
    assert _expected_resources(variant, conditions) <= created
    assert ("DatabaseProd" in created) == (params["Environment"] == "prod")
    assert ("DatabaseDev" in created) == (params["Environment"] == "dev")

    ec2 = boto3.client("ec2")
    subnets = outputs["Subnets"].split(",")
    assert len(subnets) == 2
    described = ec2.describe_subnets(SubnetIds=subnets)["Subnets"]
    assert len({s["AvailabilityZone"] for s in described}) == 2
    if params["NetworkMode"] == "existing":
        assert subnets == params["SubnetIds"].split(",")
        assert outputs["AssignPublicIp"] == "ENABLED"
    elif params.get("PrivateSubnetsWithEndpoints") == "true":
        # (moto ignores MapPublicIpOnLaunch; see test_dedicated_subnets_public_ip_mapping)
        assert set(subnets) == {
            r["PhysicalResourceId"]
            for r in boto3.client("cloudformation").list_stack_resources(StackName=STACK)[
                "StackResourceSummaries"
            ]
            if r["LogicalResourceId"] in ("PrivateSubnet1", "PrivateSubnet2")
        }
        assert outputs["AssignPublicIp"] == "DISABLED"
        services = {
            e["ServiceName"].split("us-east-1.")[1]
            for e in ec2.describe_vpc_endpoints()["VpcEndpoints"]
        }
        assert {
            "ecr.api", "ecr.dkr", "logs", "secretsmanager", "bedrock-runtime", "transcribe", "s3",
        } <= services
    else:
        assert {s["CidrBlock"] for s in described} == {"10.0.1.0/24", "10.0.2.0/24"}
        assert outputs["AssignPublicIp"] == "ENABLED"

    # Security groups: nothing in from the internet; PostgreSQL only from the task group.
    task_sg = outputs["TaskSecurityGroup"]
    groups = ec2.describe_security_groups()["SecurityGroups"]
    for group in groups:
        for rule in group["IpPermissions"]:
            assert not any(r["CidrIp"] == "0.0.0.0/0" for r in rule.get("IpRanges", [])), group
    tasks = next(g for g in groups if g["GroupId"] == task_sg)
    assert tasks["IpPermissions"] == []
    db_sg_id = next(
        r["PhysicalResourceId"]
        for r in boto3.client("cloudformation").list_stack_resources(StackName=STACK)[
            "StackResourceSummaries"
        ]
        if r["LogicalResourceId"] == "DatabaseSecurityGroup"
    )
    db = next(g for g in groups if g["GroupId"] == db_sg_id)
    assert [(p["FromPort"], [u["GroupId"] for u in p["UserIdGroupPairs"]]) for p in db["IpPermissions"]] == [
        (5432, [task_sg])
    ]

    # Buckets (moto's CloudFormation applies only BucketEncryption and Tags to a bucket; the
    # other protections are checked on the template in test_buckets_are_protected).
    s3 = boto3.client("s3")
    for key in ("InputBucket", "OutputBucket", "WorkBucket"):
        bucket = outputs[key]
        assert bucket.endswith(f"-{params['Environment']}-123456789012")
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms")
    sqs = boto3.client("sqs")

    # Queue and its dead-letter queue.
    attrs = sqs.get_queue_attributes(QueueUrl=outputs["EventsQueueUrl"], AttributeNames=["All"])[
        "Attributes"
    ]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == 5
    dlq_arn = sqs.get_queue_attributes(
        QueueUrl=outputs["EventsDeadLetterQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert redrive["deadLetterTargetArn"] == dlq_arn

    # Tables.
    ddb = boto3.client("dynamodb")
    tracking = ddb.describe_table(TableName=outputs["TrackingTable"])["Table"]
    assert outputs["TrackingTable"] == f"techne-assets-tracking-{params['Environment']}"
    assert tracking["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert tracking["KeySchema"] == [{"AttributeName": "execution_id", "KeyType": "HASH"}]
    index = tracking["GlobalSecondaryIndexes"][0]
    assert index["IndexName"] == "video_key-index"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["video_key", "started_at"]
    state = ddb.describe_table(TableName=outputs["BedrockStateTable"])["Table"]
    assert state["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]

    # Topic with the e-mail subscription.
    subs = boto3.client("sns").list_subscriptions_by_topic(TopicArn=outputs["NotificationTopic"])
    assert [(s["Protocol"], s["Endpoint"]) for s in subs["Subscriptions"]] == [
        ("email", "ops@example.com")
    ]

    # ECS: cluster, run task definition (2 vCPU / 8 GB, container "run") and its environment.
    ecs = boto3.client("ecs")
    assert ecs.describe_clusters(clusters=[outputs["Cluster"]])["clusters"][0]["status"] == "ACTIVE"
    run_td = ecs.describe_task_definition(taskDefinition=outputs["RunTaskDefinition"])[
        "taskDefinition"
    ]
    # (moto's CloudFormation drops Cpu and NetworkMode; see test_run_task_definition_shape)
    assert run_td["memory"] == "8192"
    (container,) = run_td["containerDefinitions"]
    assert container["name"] == "run"
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["TECHNE_PROFILE"] == "aws"
    assert env["TECHNE_INPUT_URI"] == f"s3://{outputs['InputBucket']}/"
    assert env["TECHNE_OUTPUT_URI"] == f"s3://{outputs['OutputBucket']}/"
    assert env["TECHNE_STORE_URI"] == f"s3://{outputs['WorkBucket']}/store/"
    assert env["TECHNE_SCRATCH_URI"] == f"s3://{outputs['WorkBucket']}/scratch/"
    assert env["TECHNE_TRACKING_TABLE"] == outputs["TrackingTable"]
    assert env["TECHNE_BEDROCK_STATE_TABLE"] == outputs["BedrockStateTable"]
    assert env["TECHNE_NOTIFY_TOPIC_ARN"] == outputs["NotificationTopic"]
    assert env["TECHNE_SQS_QUEUE_URL"] == outputs["EventsQueueUrl"]
    assert env["TECHNE_SENSOR_MODE"] == "sqs"
    assert env["DAGSTER_ECS_CLUSTER"] == outputs["Cluster"]
    assert env["DAGSTER_PG_HOST"] == outputs["DatabaseEndpoint"]
    assert outputs["RunTaskDefinition"].split("/")[-1].startswith(env["DAGSTER_RUN_TASK_DEFINITION"] + ":")
    secrets = {s["name"]: s["valueFrom"] for s in container["secrets"]}
    assert secrets["DAGSTER_PG_PASSWORD"] == f"{stack['secret']}:password::"
    assert "DAGSTER_PG_PASSWORD" not in env

    # Services: no load balancer; ECS Exec only on the webserver.
    services = ecs.describe_services(cluster=outputs["Cluster"], services=["webserver", "daemon"])[
        "services"
    ]
    assert len(services) == 2
    for service in services:
        # (moto drops NetworkConfiguration; see test_services_run_in_the_chosen_network)
        assert not service.get("loadBalancers")
        assert service["desiredCount"] == 1

    repo = boto3.client("ecr").describe_repositories()["repositories"][0]
    assert outputs["EcrRepositoryUri"].endswith("/" + repo["repositoryName"])
    # (moto's CloudFormation drops ImageScanningConfiguration and LifecyclePolicy)
    props = _template()["Resources"]["ImageRepository"]["Properties"]
    assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
    policy = json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])
    assert policy["rules"][0]["selection"]["countNumber"] == 20


# ------------------------------------------------------------------ the real template


@pytest.fixture(scope="module")
def resources() -> dict:
    return _template()["Resources"]


def _props(resources, name):
    return resources[name]["Properties"]


def test_tracking_table_has_point_in_time_recovery(resources):
    # moto's CloudFormation does not apply PointInTimeRecoverySpecification.
    props = _props(resources, "TrackingTable")
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["TableName"] == {"Fn::Sub": "${ProjectName}-tracking-${Environment}"}


def test_bedrock_state_table_expires_items(resources):
    # moto's CloudFormation does not apply TimeToLiveSpecification.
    props = _props(resources, "BedrockStateTable")
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_dedicated_subnets_public_ip_mapping(resources):
    for name in ("PublicSubnet1", "PublicSubnet2"):
        assert _props(resources, name)["MapPublicIpOnLaunch"] is True
    for name in ("PrivateSubnet1", "PrivateSubnet2"):
        assert _props(resources, name)["MapPublicIpOnLaunch"] is False
    azs = [_props(resources, f"PublicSubnet{i}")["AvailabilityZone"] for i in (1, 2)]
    assert azs[0] != azs[1]


def test_run_task_definition_shape(resources):
    props = _props(resources, "RunTaskDefinition")
    assert props["Cpu"] == {"Ref": "RunTaskCpu"} and props["Memory"] == {"Ref": "RunTaskMemory"}
    parameters = _template()["Parameters"]
    assert (parameters["RunTaskCpu"]["Default"], parameters["RunTaskMemory"]["Default"]) == (2048, 8192)
    assert props["NetworkMode"] == "awsvpc"
    assert props["RequiresCompatibilities"] == ["FARGATE"]
    assert props["TaskRoleArn"] == {"Fn::GetAtt": ["RunTaskRole", "Arn"]}
    (container,) = props["ContainerDefinitions"]
    assert container["Name"] == "run" and "Command" not in container


def test_services_run_in_the_chosen_network(resources):
    chosen = _props(resources, "DatabaseSubnetGroup")["SubnetIds"]
    assert chosen == {
        "Fn::If": [
            "WithEndpoints",
            [{"Ref": "PrivateSubnet1"}, {"Ref": "PrivateSubnet2"}],
            {
                "Fn::If": [
                    "IsDedicated",
                    [{"Ref": "PublicSubnet1"}, {"Ref": "PublicSubnet2"}],
                    {"Ref": "SubnetIds"},
                ]
            },
        ]
    }
    for name in ("DaemonService", "WebserverService"):
        props = _props(resources, name)
        assert "LoadBalancers" not in props
        awsvpc = props["NetworkConfiguration"]["AwsvpcConfiguration"]
        assert awsvpc["Subnets"] == chosen
        assert awsvpc["SecurityGroups"] == [{"Ref": "TaskSecurityGroup"}]
        assert awsvpc["AssignPublicIp"] == {"Fn::If": ["WithPublicIp", "ENABLED", "DISABLED"]}
    # Exactly one daemon at a time.
    assert _props(resources, "DaemonService")["DeploymentConfiguration"]["MaximumPercent"] == 100


def test_task_egress_is_https_and_postgres_only(resources):
    # moto's CloudFormation ignores SecurityGroupEgress, so these are checked here.
    egress = _props(resources, "TaskSecurityGroup")["SecurityGroupEgress"]
    assert [(e["IpProtocol"], e["FromPort"], e["ToPort"], e["CidrIp"]) for e in egress] == [
        ("tcp", 443, 443, "0.0.0.0/0")
    ]
    extra = _props(resources, "TaskToDatabaseEgress")
    assert (extra["FromPort"], extra["ToPort"]) == (5432, 5432)
    assert extra["GroupId"] == {"Ref": "TaskSecurityGroup"}
    assert extra["DestinationSecurityGroupId"] == {"Ref": "DatabaseSecurityGroup"}
    assert "SecurityGroupIngress" not in _props(resources, "TaskSecurityGroup")


def test_buckets_are_protected(resources):
    for bucket in ("InputBucket", "OutputBucket", "WorkBucket"):
        props = _props(resources, bucket)
        block = props["PublicAccessBlockConfiguration"]
        assert set(block) == {
            "BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets",
        }
        assert all(v is True for v in block.values())
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]["SSEAlgorithm"] in ("AES256", "aws:kms")
        name = props["BucketName"]["Fn::Sub"]
        assert "${Environment}" in name and "${AWS::AccountId}" in name
    for bucket in ("InputBucket", "OutputBucket", "WorkBucket"):
        assert _props(resources, bucket)["VersioningConfiguration"] == {"Status": "Enabled"}
    # Only scratch expires (its batch records sooner): the asset store (asset values, model
    # replies) is never expired.
    work_rules = _props(resources, "WorkBucket")["LifecycleConfiguration"]["Rules"]
    expiring = [r for r in work_rules if "ExpirationInDays" in r]
    assert [(r["Prefix"], r["ExpirationInDays"]) for r in expiring] == [("scratch/", 7), ("scratch/batch/", 5)]
    queues = _props(resources, "InputBucket")["NotificationConfiguration"]["QueueConfigurations"]
    assert queues == [
        {"Event": "s3:ObjectCreated:*", "Queue": {"Fn::GetAtt": ["EventsQueue", "Arn"]}}
    ]


def test_buckets_deny_insecure_transport(resources):
    for bucket in ("InputBucket", "OutputBucket", "WorkBucket"):
        policy = _props(resources, f"{bucket}Policy")
        assert policy["Bucket"] == {"Ref": bucket}
        (statement,) = policy["PolicyDocument"]["Statement"]
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_queue_policy_admits_only_the_input_bucket(resources):
    assert resources["InputBucket"]["DependsOn"] == "EventsQueuePolicy"
    statement = _props(resources, "EventsQueuePolicy")["PolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "s3.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    source = statement["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    bucket_name = _props(resources, "InputBucket")["BucketName"]["Fn::Sub"]
    assert source.endswith(":::" + bucket_name)
    assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}


def test_alarms_notify_the_topic(resources):
    alarms = {k: v["Properties"] for k, v in resources.items() if v["Type"] == "AWS::CloudWatch::Alarm"}
    by_metric = {(p["Namespace"], p["MetricName"]): p for p in alarms.values()}
    assert set(by_metric) == {
        ("TechneAssets", "RunsFailed"),
        ("AWS/Bedrock", "InvocationThrottles"),
        ("AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    }
    for props in alarms.values():
        assert props["AlarmActions"] == [{"Ref": "NotificationTopic"}]
    assert by_metric[("TechneAssets", "RunsFailed")]["Dimensions"] == [
        {"Name": "Environment", "Value": {"Ref": "Environment"}}
    ]
    dlq = by_metric[("AWS/SQS", "ApproximateNumberOfMessagesVisible")]
    assert dlq["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["EventsDeadLetterQueue", "QueueName"]}
    assert (dlq["Threshold"], dlq["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_database_is_private_encrypted_and_secret_backed(resources):
    for name, policy in (("DatabaseProd", "Snapshot"), ("DatabaseDev", "Delete")):
        db = resources[name]
        assert db["DeletionPolicy"] == policy
        props = db["Properties"]
        assert props["PubliclyAccessible"] is False
        assert props["StorageEncrypted"] is True
        assert "{{resolve:secretsmanager:${DatabaseSecret}:SecretString:password}}" == props[
            "MasterUserPassword"
        ]["Fn::Sub"]
    generate = _props(resources, "DatabaseSecret")["GenerateSecretString"]
    assert generate["GenerateStringKey"] == "password"


def _statements(role: dict) -> list[dict]:
    out = []
    for policy in role.get("Policies", []):
        out.extend(policy["PolicyDocument"]["Statement"])
    return out


def test_publication_may_delete_old_versions_but_nothing_may_delete_the_asset_store(resources):
    statements = _props(resources, "AppDataPolicy")["PolicyDocument"]["Statement"]
    deletes = [s for s in statements if "s3:DeleteObject" in json.dumps(s["Action"])]
    resources_text = json.dumps([s["Resource"] for s in deletes])
    assert "${OutputBucket.Arn}/*" in resources_text
    assert "${WorkBucket.Arn}/scratch/*" in resources_text
    assert "${WorkBucket.Arn}/*" not in resources_text and "store/" not in resources_text


def test_iam_is_least_privilege(resources):
    everything = json.dumps({k: v for k, v in resources.items() if v["Type"].startswith("AWS::IAM")})
    assert '"Action": "*"' not in everything and '"*:*"' not in everything

    daemon = _statements(_props(resources, "DaemonTaskRole"))
    run_task = next(s for s in daemon if s["Action"] == "ecs:RunTask")
    assert ":task-definition/${ProjectName}-run-${Environment}:*" in run_task["Resource"]["Fn::Sub"]
    assert run_task["Condition"] == {"ArnEquals": {"ecs:cluster": {"Fn::GetAtt": ["Cluster", "Arn"]}}}
    pass_role = {
        s["Condition"]["StringEquals"]["iam:PassedToService"]: s["Resource"]
        for s in daemon if s["Action"] == "iam:PassRole"
    }
    assert pass_role == {
        "ecs-tasks.amazonaws.com": [{"Fn::GetAtt": ["RunTaskRole", "Arn"]}, {"Fn::GetAtt": ["ExecutionRole", "Arn"]}],
        "bedrock.amazonaws.com": {"Fn::GetAtt": ["BatchServiceRole", "Arn"]},
    }
    star = [s for s in daemon if s["Resource"] == "*"]
    assert {a for s in star for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])} == {
        "ecs:ListTasks",  # conditioned on the cluster
        "ecs:DescribeTaskDefinition",
        "ec2:DescribeNetworkInterfaces",
        "bedrock:ListModelInvocationJobs",  # no resource-level permissions
    }
    # Batch jobs are created, read and stopped only as model-invocation-job resources.
    for statement in daemon:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        if any(a.endswith("ModelInvocationJob") for a in actions):
            assert "model-invocation-job/*" in json.dumps(statement["Resource"]), actions

    run = _statements(_props(resources, "RunTaskRole"))
    bedrock = next(s for s in run if "bedrock:InvokeModel" in s["Action"])
    resources_text = json.dumps(bedrock["Resource"])
    assert "inference-profile/${BedrockModelId}" in resources_text
    assert "foundation-model/${BedrockFoundationModelId}" in resources_text
    transcribe = next(s for s in run if "transcribe:StartTranscriptionJob" in s["Action"])
    assert transcribe["Resource"] == "*"  # Transcribe has no resource-level permissions

    web = _statements(_props(resources, "WebserverTaskRole"))
    assert any("ssmmessages:OpenDataChannel" in s["Action"] for s in web)
    assert _props(resources, "WebserverService")["EnableExecuteCommand"] is True
    assert _props(resources, "DaemonService")["EnableExecuteCommand"] is False


def test_the_batch_service_role_is_for_bedrock_jobs_of_this_account_and_the_batch_folder_only(resources):
    role = _props(resources, "BatchServiceRole")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    source = trust["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
    assert source.endswith(":bedrock:${AWS::Region}:${AWS::AccountId}:model-invocation-job/*")
    by_action = {}
    for statement in _statements(role):
        assert statement["Effect"] == "Allow"
        by_action[statement["Action"]] = statement
    assert set(by_action) == {"s3:GetObject", "s3:ListBucket", "s3:PutObject", "bedrock:InvokeModel"}
    # Reads only job inputs, writes only job outputs, both under scratch/batch/.
    assert by_action["s3:GetObject"]["Resource"] == {"Fn::Sub": "${WorkBucket.Arn}/scratch/batch/*/input/*"}
    assert by_action["s3:PutObject"]["Resource"] == {"Fn::Sub": "${WorkBucket.Arn}/scratch/batch/*/output/*"}
    listing = by_action["s3:ListBucket"]
    assert listing["Resource"] == {"Fn::GetAtt": ["WorkBucket", "Arn"]}
    assert listing["Condition"] == {"StringLike": {"s3:prefix": "scratch/batch/*"}}
    models = json.dumps(by_action["bedrock:InvokeModel"]["Resource"])
    assert "inference-profile/${BedrockModelId}" in models and "foundation-model/${BedrockFoundationModelId}" in models
    # The code's batch folder is under the scratch store the tasks get, where the lifecycle rule
    # and these grants apply.
    (container,) = _props(resources, "RunTaskDefinition")["ContainerDefinitions"]
    env = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert env["TECHNE_SCRATCH_URI"] == {"Fn::Sub": "s3://${WorkBucket}/scratch/"}


def test_batch_records_outlive_the_longest_job_by_a_day(resources):
    parameter = _template()["Parameters"]["BatchJobTimeoutHours"]
    from techne_assets.settings import Settings

    timeout = Settings.model_fields["batch_timeout_hours"]
    assert parameter["Default"] == timeout.default
    rules = _props(resources, "WorkBucket")["LifecycleConfiguration"]["Rules"]
    days = {r["Prefix"]: r["ExpirationInDays"] for r in rules if "ExpirationInDays" in r}
    # S3 applies the shorter of two overlapping expirations: the batch rule must be the shorter
    # one, and still a day longer than the longest job the stack allows.
    assert days["scratch/batch/"] < days["scratch/"]
    assert days["scratch/batch/"] * 24 >= parameter["MaxValue"] + 24
    assert parameter["MinValue"] >= 24  # Bedrock's minimum job timeout
    for name in ("RunTaskDefinition", "DaemonTaskDefinition", "WebserverTaskDefinition"):
        (container,) = _props(resources, name)["ContainerDefinitions"]
        env = {e["Name"]: e["Value"] for e in container["Environment"]}
        assert env["TECHNE_BATCH_ROLE_ARN"] == {"Fn::GetAtt": ["BatchServiceRole", "Arn"]}
        assert env["TECHNE_BATCH_TIMEOUT_HOURS"] == {"Ref": "BatchJobTimeoutHours"}


def test_containers_carry_the_settings_the_code_reads(resources):
    from techne_assets.settings import Settings

    fields = set(Settings.model_fields)
    required = {
        "TECHNE_PROFILE", "TECHNE_INPUT_URI", "TECHNE_OUTPUT_URI", "TECHNE_STORE_URI",
        "TECHNE_SCRATCH_URI",
        "TECHNE_TRACKING_TABLE", "TECHNE_NOTIFY_TOPIC_ARN", "TECHNE_BEDROCK_MODEL_ID",
        "TECHNE_BEDROCK_REQUESTS_PER_MINUTE", "TECHNE_BEDROCK_TOKENS_PER_MINUTE",
        "TECHNE_BEDROCK_STATE_TABLE", "TECHNE_SQS_QUEUE_URL", "TECHNE_SENSOR_MODE",
        "DAGSTER_HOME", "DAGSTER_PG_HOST", "DAGSTER_PG_PORT", "DAGSTER_PG_DB",
        "DAGSTER_ECS_CLUSTER", "DAGSTER_RUN_TASK_DEFINITION",
    }
    dagster_yaml = (INFRA / "dagster" / "dagster.yaml").read_text()
    for name in ("RunTaskDefinition", "DaemonTaskDefinition", "WebserverTaskDefinition"):
        (container,) = _props(resources, name)["ContainerDefinitions"]
        env = {e["Name"] for e in container["Environment"]}
        secrets = {s["Name"] for s in container["Secrets"]}
        assert required <= env, (name, required - env)
        assert {"DAGSTER_PG_USERNAME", "DAGSTER_PG_PASSWORD"} == secrets
        for var in env:
            if var.startswith("TECHNE_"):
                assert var.removeprefix("TECHNE_").lower() in fields, var
        # Every variable the production dagster.yaml reads is set on every container.
        for var in re.findall(r"env: ?(\w+)\}?", dagster_yaml):
            assert var in env | secrets, (name, var)


def test_outputs_cover_what_operators_need():
    outputs = set(_template()["Outputs"])
    assert {
        "InputBucket", "OutputBucket", "WorkBucket", "TrackingTable", "BedrockStateTable",
        "NotificationTopic", "EventsQueueUrl", "Cluster", "RunTaskDefinition", "Subnets", "BatchServiceRoleArn",
        "TaskSecurityGroup", "WebserverAccess", "EcrRepositoryUri",
    } <= outputs
    access = _template()["Outputs"]["WebserverAccess"]["Value"]["Fn::Sub"]
    assert "AWS-StartPortForwardingSession" in access and "portNumber=3000" in access


# ------------------------------------------------------------------ parameter files


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_parameter_files_match_the_template(env):
    path = INFRA / "parameters" / f"{env}.json"
    lines = infra_params.overrides_lines(path, ["ImageTag=abc1234"])
    values = dict(line.split("=", 1) for line in lines)
    assert values["Environment"] == env
    assert values["ImageTag"] == "abc1234"
    assert values["RunTaskCpu"] == "2048" and values["RunTaskMemory"] == "8192"
    assert values["NetworkMode"] == ("existing" if env == "dev" else "dedicated")


def test_params_rejects_unknown_keys_and_bad_values(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"Parameters": {"NotificationEmail": "a@b.c", "SubnetId": "x"}}))
    with pytest.raises(infra_params.ParameterError, match="SubnetId"):
        infra_params.overrides_lines(bad, [])
    bad.write_text(json.dumps({"Parameters": {"NotificationEmail": "a@b.c", "NetworkMode": "vpn"}}))
    with pytest.raises(infra_params.ParameterError, match="NetworkMode=vpn"):
        infra_params.overrides_lines(bad, [])
    bad.write_text(json.dumps({"Parameters": {"Environment": "dev"}}))
    with pytest.raises(infra_params.ParameterError, match="NotificationEmail"):
        infra_params.overrides_lines(bad, [])
    bad.write_text(json.dumps([{"ParameterKey": "Environment", "ParameterValue": "dev"}]))
    with pytest.raises(infra_params.ParameterError, match="Parameters"):
        infra_params.overrides_lines(bad, [])


def test_deploy_prints_parameter_overrides_without_aws():
    proc = subprocess.run(
        ["bash", str(INFRA / "deploy.sh"), "dev", "--print-parameter-overrides"],
        capture_output=True,
        text=True,
        env={**os.environ, "IMAGE_TAG": "feedbee", "PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert "ImageTag=feedbee" in lines
    assert "BedrockTokensPerMinute=200000" in lines
    assert all(re.fullmatch(r"[A-Za-z0-9]+=.*", line) for line in lines)


# ------------------------------------------------------------------ deploy.sh / teardown.sh flow

FAKE_AWS = r"""#!/usr/bin/env bash
echo "aws $*" >> "$CALLS"
case "$1 $2" in
  "sts get-caller-identity") echo 123456789012 ;;
  "configure get") echo us-east-1 ;;
  "ec2 describe-vpcs") echo vpc-0default ;;
  "ec2 describe-subnets") printf 'subnet-a\tsubnet-b\n' ;;
  "cloudformation describe-stacks")
    [ -f "$STATE/stack" ] || { echo "Stack does not exist" >&2; exit 254; }
    case "$*" in
      *EcrRepositoryUri*) echo 123456789012.dkr.ecr.us-east-1.amazonaws.com/techne-assets-dev ;;
      *StackStatus*) echo CREATE_COMPLETE ;;
      *) echo "[]" ;;
    esac ;;
  "cloudformation deploy") touch "$STATE/stack" ;;
  "ecr describe-images") exit 254 ;;
  "ecr get-login-password") echo password ;;
esac
"""

FAKE_TOOL = r"""#!/usr/bin/env bash
echo "$(basename "$0") $*" >> "$CALLS"
case "$(basename "$0") $*" in
  *rev-parse*) echo abc1234 ;;
esac
"""


def _stub_bin(tmp_path: Path) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in (("aws", FAKE_AWS), ("docker", FAKE_TOOL), ("git", FAKE_TOOL)):
        path = bin_dir / name
        path.write_text(body)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    (tmp_path / "state").mkdir()
    return {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "CALLS": str(tmp_path / "calls.log"),
        "STATE": str(tmp_path / "state"),
        "PYTHON": sys.executable,
        "HOME": str(tmp_path),
    }


def test_deploy_bootstraps_then_pushes_then_releases(tmp_path):
    if not (ROOT / "requirements.lock").exists():
        pytest.fail("requirements.lock (the image's install list) is missing at the project root")
    env = _stub_bin(tmp_path)
    proc = subprocess.run(
        ["bash", str(INFRA / "deploy.sh"), "dev"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    calls = Path(env["CALLS"]).read_text().splitlines()
    deploys = [i for i, c in enumerate(calls) if c.startswith("aws cloudformation deploy")]
    push = next(i for i, c in enumerate(calls) if c.startswith("docker push"))
    build = next(c for c in calls if c.startswith("docker build"))
    assert len(deploys) == 2 and deploys[0] < push < deploys[1]
    first, second = calls[deploys[0]], calls[deploys[1]]
    assert "ServiceDesiredCount=0" in first and "ImageTag=bootstrap" in first
    assert "ServiceDesiredCount=1" in second and "ImageTag=abc1234" in second
    assert "VpcId=vpc-0default" in second and "SubnetIds=subnet-a,subnet-b" in second
    assert "--capabilities CAPABILITY_NAMED_IAM" in second and "--no-fail-on-empty-changeset" in second
    assert "--stack-name techne-assets-dev" in second
    assert "techne-assets-dev:abc1234" in build and "--platform linux/amd64" in build

    # Second deploy of the same commit: no bootstrap.
    Path(env["CALLS"]).unlink()
    proc = subprocess.run(
        ["bash", str(INFRA / "deploy.sh"), "dev"], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    calls = Path(env["CALLS"]).read_text().splitlines()
    assert len([c for c in calls if c.startswith("aws cloudformation deploy")]) == 1


def test_teardown_refuses_without_confirmation(tmp_path):
    env = _stub_bin(tmp_path)
    proc = subprocess.run(
        ["bash", str(INFRA / "teardown.sh"), "dev"],
        input="",
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "not confirmed" in proc.stderr
    assert not Path(env["CALLS"]).exists()  # no AWS call at all


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_teardown_empties_versioned_buckets_and_deletes_the_stack(aws_env, tmp_path):
    vpc, subnets = _existing_network()
    _, _, stack = _create_stack(
        {
            "Environment": "dev",
            "NetworkMode": "existing",
            "NotificationEmail": "ops@example.com",
            "VpcId": vpc,
            "SubnetIds": ",".join(subnets),
        }
    )
    s3 = boto3.client("s3")
    bucket = stack["outputs"]["InputBucket"]
    for body in (b"v1", b"v2"):
        s3.put_object(Bucket=bucket, Key="call.mp4", Body=body)
    s3.delete_object(Bucket=bucket, Key="call.mp4")  # leaves a delete marker
    s3.put_object(Bucket=stack["outputs"]["OutputBucket"], Key="doc.md", Body=b"# doc")

    proc = subprocess.run(
        ["bash", str(INFRA / "teardown.sh"), "dev", "--yes"],
        capture_output=True,
        text=True,
        env={**os.environ, "TMPDIR": str(tmp_path)},
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    names = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    for key in ("InputBucket", "OutputBucket", "WorkBucket"):
        name = stack["outputs"][key]
        if name in names:  # if moto kept the bucket, it must at least be empty
            versions = s3.list_object_versions(Bucket=name)
            assert not versions.get("Versions") and not versions.get("DeleteMarkers")
    stacks = boto3.client("cloudformation").list_stacks()["StackSummaries"]
    assert [s["StackStatus"] for s in stacks if s["StackName"] == STACK] == ["DELETE_COMPLETE"]


def test_the_alarms_and_dashboard_read_metrics_the_code_emits():
    from techne_assets.core.observability import METRICS_NAMESPACE, emf_record

    template = (INFRA / "template.yaml").read_text()
    referenced = set(re.findall(rf'"{METRICS_NAMESPACE}", "(\w+)"', template))
    referenced |= set(re.findall(rf"Namespace: {METRICS_NAMESPACE}\s+MetricName: (\w+)", template))
    record = emf_record(environment="dev", duration_seconds=1, cost_usd=0.1, input_tokens=1,
                        output_tokens=1, failed=False)
    emitted = {m["Name"] for m in record["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert referenced and referenced <= emitted
    assert record["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Environment"]]
