"""End to end under `dagster dev` on the aws profile: an archive backfill through Bedrock batch.

S3, DynamoDB and SNS are moto's standalone server over HTTP; on-demand Converse is the
simulator (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME`) and the batch control plane is the batch-job
stand-in (`AWS_ENDPOINT_URL_BEDROCK`), both in this process and both answering with the canned
answers, so the same requests get the same replies whichever way they travel.

`techne backfill --via batch` submits 12 archived calls before the daemon starts (so the inbox
sensor finds them already in a batch group). The first job is held long enough for a new video
dropped into the inbox to be published through on-demand meanwhile, then stopped midway; the
next pass resumes it with only the records it left unanswered. Every 5th record of a job is
answered with an error, and each is retried exactly once on-demand. All 12 are published.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from e2e_support import DagsterDev, free_port, instance_config

from techne_assets.adapters.batch_ledger import BatchLedger
from techne_assets.adapters.demo import record_demo
from techne_assets.adapters.storage import storage_from_uri
from techne_assets.adapters.tracking import DynamoTracker
from techne_assets.testing.batch_service import BatchService
from techne_assets.testing.canned_answers import CannedAnswers
from techne_assets.testing.converse_simulator import ConverseSimulator

pytestmark = pytest.mark.e2e

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INPUT_BUCKET, OUTPUT_BUCKET, WORK_BUCKET = "techne-input", "techne-output", "techne-work"
TRACKING_TABLE = "techne-runs"
ROLE_ARN = "arn:aws:iam::123456789012:role/techne-batch"
VIDEOS = 12
ERROR_EVERY = 5
STOP_AFTER_RECORDS = 5
NEW_VIDEO = "novas/chamada-nova.mp4"
GROUP_TIMEOUT = 600


def numbered_captions(captions: str, number: int) -> str:
    """The demo's captions with one sentence naming the recording, so no two calls send the same
    requests (the reply cache would otherwise answer eleven of them from the first)."""
    cues = captions.split("\n\n")
    for index, cue in enumerate(cues):
        if "-->" in cue:
            cues[index] = f"{cue.rstrip()} Esta é a gravação número {number}."
            break
    return "\n\n".join(cues)


def upload_call(s3, video: Path, captions: str, key: str, number: int) -> None:
    s3.put_object(Bucket=INPUT_BUCKET, Key=key.removesuffix(".mp4") + ".vtt",
                  Body=numbered_captions(captions, number).encode("utf-8"))
    s3.upload_file(str(video), INPUT_BUCKET, key)


def published_partitions(s3) -> set[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=OUTPUT_BUCKET, Prefix="documentos/")
    keys = [item["Key"] for page in pages for item in page.get("Contents", [])]
    return {re.sub(r"/v\d+/document\.md$", "", key.removeprefix("documentos/"))
            for key in keys if key.endswith("/document.md")}


def job_outputs(s3, output_uri: str) -> list[dict]:
    bucket, _, prefix = output_uri.removeprefix("s3://").partition("/")
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    lines = []
    for page in pages:
        for item in page.get("Contents", []):
            if item["Key"].endswith(".jsonl.out"):
                body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read().decode("utf-8")
                lines += [json.loads(line) for line in body.splitlines() if line.strip()]
    return lines


def test_an_archive_backfill_through_batch_publishes_every_call(aws_env, tmp_path):
    s3 = boto3.client("s3")
    for bucket in (INPUT_BUCKET, OUTPUT_BUCKET, WORK_BUCKET):
        s3.create_bucket(Bucket=bucket)
    DynamoTracker(TRACKING_TABLE).ensure_table()
    topic_arn = boto3.client("sns").create_topic(Name="techne-notifications")["TopicArn"]
    video, captions_path = record_demo(tmp_path / "recorded")
    captions = captions_path.read_text(encoding="utf-8")
    keys = [f"arquivo-2019/chamada-{n:02d}.mp4" for n in range(VIDEOS)]
    for number, key in enumerate(keys):
        upload_call(s3, video, captions, key, number)

    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    config = instance_config(PROJECT_ROOT, run_monitoring_poll_seconds=5)
    # Three runs at once, the backfill's included, dequeued every second: the calls are short,
    # and run start-up dominates.
    config = config.replace("max_concurrent_runs: 2", "max_concurrent_runs: 3", 1) + (
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: QueuedRunCoordinator\n"
        "  config:\n    dequeue_interval_seconds: 1\n")
    (home / "dagster.yaml").write_text(config.replace("limit: 1\n  pools", "limit: 3\n  pools", 1), encoding="utf-8")
    simulator = ConverseSimulator(requests_per_minute=1_000, tokens_per_minute=10_000_000, time_scale=0.02,
                                  responder=CannedAnswers())
    # The first job holds until the new video is published, then is stopped midway.
    service = BatchService(responder=CannedAnswers(), min_records=1, turnaround_seconds=3_600,
                           error_every=ERROR_EVERY, stop_after_records=STOP_AFTER_RECORDS)
    port = free_port()
    with simulator, service:
        env = {
            "TECHNE_PROFILE": "aws",
            "TECHNE_INPUT_URI": f"s3://{INPUT_BUCKET}/",
            "TECHNE_OUTPUT_URI": f"s3://{OUTPUT_BUCKET}/documentos/",
            "TECHNE_STORE_URI": f"s3://{WORK_BUCKET}/store/",
            "TECHNE_SCRATCH_URI": f"s3://{WORK_BUCKET}/scratch/",
            "TECHNE_STATE_DIR": str(tmp_path / "state"),
            "TECHNE_TRACKING_TABLE": TRACKING_TABLE,
            "TECHNE_NOTIFY_TOPIC_ARN": topic_arn,
            "TECHNE_TRANSCRIBER": "captions",
            "TECHNE_WRITER": "bedrock",
            "TECHNE_BEDROCK_REQUESTS_PER_MINUTE": "1000",
            "TECHNE_BEDROCK_TOKENS_PER_MINUTE": "10000000",
            "TECHNE_BATCH_ROLE_ARN": ROLE_ARN,
            "TECHNE_BATCH_MIN_RECORDS": "1",
            "TECHNE_BATCH_POLL_SECONDS": "2",
            "TECHNE_BATCH_MAX_PARTITIONS_PER_RUN": "12",
            "TECHNE_UI_BASE_URL": f"http://127.0.0.1:{port}",
            "AWS_ENDPOINT_URL": aws_env,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": simulator.endpoint_url,
            "AWS_ENDPOINT_URL_BEDROCK": service.endpoint_url,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(cwd / "aws-config"), "AWS_SHARED_CREDENTIALS_FILE": str(cwd / "aws-credentials"),
        }
        cli_env = {k: v for k, v in os.environ.items() if not k.startswith(("TECHNE_", "DAGSTER_", "AWS_"))}
        cli_env.update(env, DAGSTER_HOME=str(home))
        backfill = subprocess.run([sys.executable, "-m", "techne_assets.cli", "backfill", "--via", "batch"],
                                  env=cli_env, cwd=cwd, capture_output=True, text=True, timeout=180)
        assert backfill.returncode == 0, backfill.stderr
        submitted = re.search(r"backfill (\S+) submitted through Bedrock batch: (\d+) videos", backfill.stdout)
        assert submitted is not None and int(submitted.group(2)) == VIDEOS, backfill.stdout
        group_id = submitted.group(1)
        ledger = BatchLedger(storage_from_uri(env["TECHNE_STORE_URI"]), storage_from_uri(env["TECHNE_SCRATCH_URI"]))
        assert ledger.group(group_id).partition_keys == keys

        with DagsterDev(PROJECT_ROOT, home=home, env=env, cwd=cwd, port=port) as dev:
            upload_call(s3, video, captions, NEW_VIDEO, 99)  # while the archive is being transcribed
            dev.wait_until(service.job_arns, timeout=GROUP_TIMEOUT, what="the first batch job", interval=2)
            dev.wait_until(lambda: NEW_VIDEO in published_partitions(s3), timeout=300,
                           what="the new video published through on-demand", interval=2)
            # Meanwhile the group waited on its first job: every on-demand call so far was the new video's.
            assert ledger.group(group_id).state == "job"
            calls_for_the_new_video = len(simulator.calls)
            assert calls_for_the_new_video > 0
            service.turnaround_seconds = 2  # the held job now runs to its stop, the next ones briskly
            dev.wait_until(lambda: ledger.group(group_id).state == "done", timeout=GROUP_TIMEOUT,
                           what="the batch group to be done", interval=3)
            group = ledger.group(group_id)
            tracker = DynamoTracker(TRACKING_TABLE)

            def tracked_modes() -> dict[str, str] | None:
                published = [r for r in dev.runs() if r["status"] == "SUCCESS"
                             and r["tags"].get("dagster/partition") in {*keys, NEW_VIDEO}
                             and "dagster/backfill" not in r["tags"]]
                records = [tracker.get(r["runId"]) for r in published]
                if len(records) < VIDEOS + 1 or any(r is None or r.finished_at is None for r in records):
                    return None
                return {r.partition_key: (r.writer_mode, r.cost_usd) for r in records}

            tracked = dev.wait_until(tracked_modes, timeout=120, what="the tracking records", interval=3)
            # The group's transcript-only runs succeeded without a record or a "document ready" notice.
            transcript_runs = [r for r in dev.runs() if "dagster/backfill" in r["tags"]]
            assert len(transcript_runs) >= VIDEOS and all(tracker.get(r["runId"]) is None for r in transcript_runs)

        assert sorted(group.published) == keys and group.failed == {}
        assert set(keys) <= published_partitions(s3)
        # The stopped job was resumed: the next job got none of the records it had answered.
        first, *later = group.jobs
        assert first.status == "Stopped" and later
        answered_first = {line["recordId"] for line in job_outputs(s3, first.output_uri) if "modelOutput" in line}
        assert 0 < len(answered_first) < first.records
        assert not answered_first & set(service.record_ids_received[later[0].job_arn])
        # Every record answered in error was retried once on-demand, and nothing else went on-demand.
        errored = [line for job in group.jobs for line in job_outputs(s3, job.output_uri) if "error" in line]
        assert errored, "the stand-in put some records in error"
        assert len(simulator.calls) - calls_for_the_new_video == len(errored)
        # Tracking says which videos went through batch, and what each paid (its batch answers).
        assert {key: mode for key, (mode, _) in tracked.items()} == {**dict.fromkeys(keys, "batch"),
                                                                       NEW_VIDEO: "on-demand"}
        assert all(cost > 0 for _, cost in tracked.values())
