"""The production instance config (infra/dagster/dagster.yaml) loads, and its EcsRunLauncher
starts each run in the daemon's subnet, security group and public-IP setting.

The launch runs against moto's ECS/EC2 over HTTP. Only the `storage:` block is swapped for a
temporary SQLite one (there is no PostgreSQL here); the `run_launcher:` block is used verbatim.
The ECS task-metadata endpoint the launcher reads (ECS_CONTAINER_METADATA_URI_V4) is served by a
tiny local HTTP server describing a "daemon" task started in moto with the chosen network.
"""

from __future__ import annotations

import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import boto3
import dagster as dg
import pytest
import yaml
from dagster._config import process_config
from dagster._core.instance.config import dagster_instance_config
from dagster._core.test_utils import in_process_test_workspace
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

ROOT = Path(__file__).resolve().parents[1]
PROD_INSTANCE_YAML = ROOT / "infra" / "dagster" / "dagster.yaml"

CLUSTER = "techne-assets-dev"
RUN_FAMILY = "techne-assets-run-dev"
PG_ENV = {
    "DAGSTER_PG_HOST": "db.example.internal",
    "DAGSTER_PG_PORT": "5432",
    "DAGSTER_PG_DB": "dagster",
    "DAGSTER_PG_USERNAME": "dagster",
    "DAGSTER_PG_PASSWORD": "not-a-real-password",
}


@dg.op
def noop() -> None:
    return None


@dg.job
def launcher_probe():
    noop()


defs = dg.Definitions(jobs=[launcher_probe])


def _load(tmp_path: Path) -> dict:
    home = tmp_path / "prod_home"
    home.mkdir()
    shutil.copy(PROD_INSTANCE_YAML, home / "dagster.yaml")
    config, _ = dagster_instance_config(str(home))
    return config


# ------------------------------------------------------------------ config-only checks


def test_production_instance_config_is_valid(tmp_path, monkeypatch):
    for name, value in PG_ENV.items():
        monkeypatch.setenv(name, value)
    config = _load(tmp_path)

    from dagster_postgres import DagsterPostgresStorage

    storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert storage.success, storage.errors
    db = storage.value["postgres_db"]
    assert db["hostname"] == "db.example.internal"
    assert db["password"] == "not-a-real-password"
    assert db["port"] == 5432

    assert config["run_coordinator"]["class"] == "QueuedRunCoordinator"
    assert config["concurrency"]["runs"]["max_concurrent_runs"] == 10
    assert {"key": "dagster/backfill", "limit": 3} in config["concurrency"]["runs"][
        "tag_concurrency_limits"
    ]
    assert config["concurrency"]["pools"]["default_limit"] >= 1
    assert config["run_monitoring"]["enabled"] is True
    assert config["run_retries"] == {
        "enabled": True,
        "max_retries": 2,
        # A step failure (bad input, configuration) is final in production as locally.
        "retry_on_asset_or_op_failure": False,
    }
    assert config["telemetry"]["enabled"] is False

    launcher = config["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_aws.ecs", "EcsRunLauncher")
    assert launcher["config"]["container_name"] == "run"
    assert launcher["config"]["task_definition"] == {"env": "DAGSTER_RUN_TASK_DEFINITION"}
    assert launcher["config"]["use_current_ecs_task_config"] is True


def test_production_storage_needs_the_database_environment(tmp_path, monkeypatch):
    for name, value in PG_ENV.items():
        if name != "DAGSTER_PG_PASSWORD":
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_PG_PASSWORD", raising=False)
    config = _load(tmp_path)

    from dagster_postgres import DagsterPostgresStorage

    storage = process_config(DagsterPostgresStorage.config_type(), config["storage"]["postgres"])
    assert not storage.success
    assert "DAGSTER_PG_PASSWORD" in str(storage.errors)


def test_production_config_mentions_no_secret_value():
    text = PROD_INSTANCE_YAML.read_text()
    parsed = yaml.safe_load(text)
    password = parsed["storage"]["postgres"]["postgres_db"]["password"]
    assert password == {"env": "DAGSTER_PG_PASSWORD"}


# ------------------------------------------------------------------ launching against moto


class _MetadataHandler(BaseHTTPRequestHandler):
    payload: dict = {}
    container: dict = {}

    def do_GET(self):  # noqa: N802 - http.server API
        body = self.payload if self.path.rstrip("/").endswith("/task") else self.container
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def metadata_server():
    handler = type("Handler", (_MetadataHandler,), {"payload": {}, "container": {}})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler, f"http://127.0.0.1:{server.server_port}/v4/daemon"
    server.shutdown()
    server.server_close()


def _network(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    # moto names task ENIs only in VPCs with DNS hostnames (as the default VPC has).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone="us-east-1a")
    other = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.2.0/24", AvailabilityZone="us-east-1b")
    sg = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    decoy = ec2.create_security_group(GroupName="decoy", Description="decoy", VpcId=vpc)["GroupId"]
    return subnet["Subnet"]["SubnetId"], other["Subnet"]["SubnetId"], sg, decoy


def _register(ecs, family: str, container: str):
    # moto needs a container-level memory to place a task; Fargate itself does not.
    ecs.register_task_definition(
        family=family,
        networkMode="awsvpc",
        requiresCompatibilities=["FARGATE"],
        cpu="2048",
        memory="8192",
        containerDefinitions=[{"name": container, "image": "techne:test", "memory": 8192}],
    )


@pytest.mark.parametrize("assign_public_ip", ["ENABLED", "DISABLED"])
def test_run_task_gets_the_daemon_network(
    aws_env, tmp_path, monkeypatch, metadata_server, assign_public_ip
):
    ec2 = boto3.client("ec2")
    ecs = boto3.client("ecs")
    subnet, other_subnet, sg, decoy_sg = _network(ec2)
    ecs.create_cluster(clusterName=CLUSTER)
    _register(ecs, RUN_FAMILY, "run")
    _register(ecs, "techne-assets-daemon-dev", "daemon")

    daemon = ecs.run_task(
        cluster=CLUSTER,
        taskDefinition="techne-assets-daemon-dev",
        launchType="FARGATE",
        networkConfiguration={
            "awsvpcConfiguration": {
                "subnets": [subnet],
                "securityGroups": [sg],
                "assignPublicIp": assign_public_ip,
            }
        },
    )["tasks"][0]
    if assign_public_ip == "ENABLED":
        # moto does not give Fargate ENIs a public IP; attach one as Fargate would.
        eni = next(
            d["value"]
            for a in daemon["attachments"]
            for d in a["details"]
            if d["name"] == "networkInterfaceId"
        )
        allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
        ec2.associate_address(AllocationId=allocation, NetworkInterfaceId=eni)

    handler, metadata_uri = metadata_server
    handler.payload.update({"Cluster": daemon["clusterArn"], "TaskARN": daemon["taskArn"]})
    handler.container.update({"Name": "daemon"})
    monkeypatch.setenv("ECS_CONTAINER_METADATA_URI_V4", metadata_uri)
    monkeypatch.setenv("DAGSTER_RUN_TASK_DEFINITION", RUN_FAMILY)
    monkeypatch.setenv("DAGSTER_ECS_CLUSTER", CLUSTER)

    # The production file with only its storage swapped for SQLite.
    prod = yaml.safe_load(PROD_INSTANCE_YAML.read_text())
    prod["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(prod))

    with dg.DagsterInstance.from_config(str(home)) as instance:
        launcher = instance.run_launcher
        assert type(launcher).__name__ == "EcsRunLauncher"
        assert launcher.task_definition.endswith(f":task-definition/{RUN_FAMILY}:1")

        sent: list[dict] = []
        launcher.ecs.meta.events.register(
            "provide-client-params.ecs.RunTask", lambda params, **_: sent.append(dict(params))
        )

        origin = LoadableTargetOrigin(python_file=__file__, attribute="defs")
        with in_process_test_workspace(instance, origin, container_image="techne:test") as ws:
            location = ws.get_code_location(ws.code_location_names[0])
            remote_job = location.get_repository("__repository__").get_full_job("launcher_probe")
            run = instance.create_run_for_job(
                job_def=launcher_probe,
                remote_job_origin=remote_job.get_remote_origin(),
                job_code_origin=remote_job.get_python_origin(),
            )
            instance.launch_run(run.run_id, ws)

        run = instance.get_run_by_id(run.run_id)
        task_arn = run.tags["ecs/task_arn"]

    # What the launcher asked ECS for.
    assert len(sent) == 1
    request = sent[0]
    assert request["cluster"] == CLUSTER
    assert request["launchType"] == "FARGATE"
    assert request["taskDefinition"].endswith(f":task-definition/{RUN_FAMILY}:1")
    awsvpc = request["networkConfiguration"]["awsvpcConfiguration"]
    assert awsvpc["subnets"] == [subnet]
    assert other_subnet not in awsvpc["subnets"]
    assert awsvpc["securityGroups"] == [sg]
    assert decoy_sg not in awsvpc["securityGroups"]
    assert awsvpc["assignPublicIp"] == assign_public_ip
    container = request["overrides"]["containerOverrides"][0]
    assert container["name"] == "run"
    assert container["command"][:3] == ["dagster", "api", "execute_run"]
    assert {"key": "dagster/run_id", "value": run.run_id} in request["tags"]

    # What ECS (moto) started: the run task, in the daemon's subnet and security group.
    task = ecs.describe_tasks(cluster=CLUSTER, tasks=[task_arn])["tasks"][0]
    assert task["taskDefinitionArn"].endswith(f":task-definition/{RUN_FAMILY}:1")
    details = {d["name"]: d["value"] for a in task["attachments"] for d in a["details"]}
    assert details["subnetId"] == subnet
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[details["networkInterfaceId"]])
    assert [g["GroupId"] for g in eni["NetworkInterfaces"][0]["Groups"]] == [sg]
