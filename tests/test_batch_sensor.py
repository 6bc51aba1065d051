"""The batch sensor's group state machine, tick by tick, on a real Dagster instance.

The ledger and the job files live in moto's S3 over HTTP; the Bedrock control plane is a
botocore Stubber (each test queues exactly the calls it expects, so a call the sensor should not
make fails the test). The draft runs of a pass are stood in for by runs added to the instance
with the requested tags, and by the pass results a draft run writes through the ledger.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path

import boto3
import dagster as dg
import pytest
from botocore.stub import ANY, Stubber
from dagster._core.events import AssetObservationData, DagsterEvent, DagsterEventType

from techne_assets.adapters.batch_ledger import BatchGroup, BatchLedger, PassResult
from techne_assets.adapters.bedrock_batch import BedrockBatchJobs
from techne_assets.adapters.storage import storage_from_uri
from techne_assets.adapters.tracking import RunStatus, SqliteTracker
from techne_assets.core.writing.batch_records import record_id
from techne_assets.defs.batch_resource import BedrockBatchResource
from techne_assets.defs.batch_sensor import bedrock_batch_sensor, contiguous_ranges
from techne_assets.defs.bedrock_resource import ModelPriceConfig
from techne_assets.defs.partitions import videos_partitions
from techne_assets.defs.resources import NotifierResource, TrackingResource
from techne_assets.defs.run_report import MODEL_CALL_OBSERVATION, report_run
from techne_assets.defs.run_tags import (
    BATCH_FINAL_TAG,
    BATCH_GROUP_TAG,
    BATCH_PASS_TAG,
    RANGE_END_TAG,
    RANGE_START_TAG,
    RUN_KEY_TAG,
    WRITER_MODE_TAG,
)
from techne_assets.defs.video_status import busy_partitions

BUCKET = "techne-batch-sensor"
MODEL = "anthropic.claude-sonnet-4-20250514-v1:0"
ROLE = "arn:aws:iam::123456789012:role/techne-batch"
GROUP = "grpabcde"
JOB_ARN = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/job0001"
# v5 has no transcript; `outsider` is a video of another backfill between v3 and v4.
ORDER = ["v1.mp4", "v2.mp4", "v3.mp4", "outsider.mp4", "v4.mp4", "v5.mp4"]
GROUP_KEYS = ["v1.mp4", "v2.mp4", "v3.mp4", "v4.mp4", "v5.mp4"]


@pytest.fixture
def bedrock_stub(aws_env, monkeypatch):
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    client = boto3.client("bedrock", region_name="us-east-1")
    jobs = BedrockBatchJobs(client)
    monkeypatch.setattr(BedrockBatchResource, "jobs", lambda self: jobs)
    with Stubber(client) as stubber:
        yield stubber
        stubber.assert_no_pending_responses()


def batch_resource(min_records: int = 3) -> BedrockBatchResource:
    return BedrockBatchResource(
        profile="aws", model_id=MODEL, role_arn=ROLE, models=[MODEL], min_records=min_records,
        timeout_hours=24, max_partitions_per_run=2, poll_seconds=1,
        price=ModelPriceConfig(input=1.5, output=7.5, cache_write=1.5, cache_read=1.5),
        store_uri=f"s3://{BUCKET}/store/", scratch_uri=f"s3://{BUCKET}/scratch/", region="us-east-1",
    )


@pytest.fixture
def ledger(bedrock_stub) -> BatchLedger:
    return BatchLedger(storage_from_uri(f"s3://{BUCKET}/store/"), storage_from_uri(f"s3://{BUCKET}/scratch/"))


@pytest.fixture
def instance():
    with dg.instance_for_test() as test_instance:
        test_instance.add_dynamic_partitions(videos_partitions.name, ORDER)
        for key in ORDER[:-1]:
            test_instance.report_runless_asset_event(dg.AssetMaterialization("transcript", partition=key))
        yield test_instance


def tick(instance, resource=None, cursor=None) -> dg.SensorResult:
    # Tracking and notices of the videos that fail in a pass go beside the instance's files.
    state_dir = instance.root_directory
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources={
        "bedrock_batch": resource or batch_resource(),
        "tracking": TrackingResource(profile="local", state_dir=state_dir),
        "notifier": NotifierResource(profile="local", state_dir=state_dir),
    })
    return bedrock_batch_sensor(context)


def sent_notices(instance) -> list[dict]:
    log = Path(instance.root_directory) / "notifications.log"
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def add_runs(instance, requests: list[dg.RunRequest], status=dg.DagsterRunStatus.SUCCESS) -> list[dg.DagsterRun]:
    runs = []
    for request in requests:
        tags = {**request.tags, RUN_KEY_TAG: request.run_key}
        if request.partition_key:
            tags["dagster/partition"] = request.partition_key
        run = dg.DagsterRun(job_name=request.job_name, run_id=str(uuid.uuid4()), tags=tags, status=status)
        instance.add_run(run)
        runs.append(run)
    return runs


def finish(instance, runs: list[dg.DagsterRun], status=dg.DagsterRunStatus.SUCCESS) -> None:
    """The same runs, ended (a run's record replaced by its final state)."""
    for run in runs:
        instance.delete_run(run.run_id)
        instance.add_run(run.with_status(status))


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def deferred(ledger: BatchLedger, pass_number: int, key: str, count: int, stage: str = "extract") -> dict[str, str]:
    """A draft run's deferred result for `key` with `count` records; returns record id → digest."""
    records = {}
    for n in range(count):
        label = f"{stage}:chunk-{n:02d}"
        d = digest(f"{key}/{label}/{pass_number}")
        records[record_id(key, label, d)] = d
    lines = [{"recordId": rid, "modelInput": {"messages": [{"role": "user", "content": [{"text": "x"}]}]}}
             for rid in records]
    ledger.write_pass_result(GROUP, PassResult(
        partition_key=key, pass_number=pass_number, run_id="r", outcome="deferred", stage=stage,
        records=records, stage_labels={rid: f"{stage}:chunk-{n:02d}" for n, rid in enumerate(records)},
    ), lines)
    return records


def outcome(ledger: BatchLedger, pass_number: int, key: str, result: str, reason: str | None = None) -> None:
    ledger.write_pass_result(GROUP, PassResult(partition_key=key, pass_number=pass_number, run_id="r",
                                               outcome=result, reason=reason), [])


def create_group(ledger: BatchLedger, **fields) -> None:
    ledger.create_group(BatchGroup(group_id=GROUP, partition_keys=GROUP_KEYS, model_id=MODEL,
                                   created_at=datetime.now(UTC).isoformat(), **fields))


def job_status(status: str, message: str | None = None, pass_number: int = 1) -> dict:
    response = {
        "jobArn": JOB_ARN, "jobName": f"techne-{GROUP}-p{pass_number}", "modelId": MODEL, "roleArn": ROLE,
        "status": status, "submitTime": datetime(2026, 1, 1, tzinfo=UTC),
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": f"s3://{BUCKET}/scratch/batch/{GROUP}/pass-{pass_number}/input/"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": f"s3://{BUCKET}/scratch/batch/{GROUP}/pass-{pass_number}/output/"}},
    }
    if message:
        response["message"] = message
    return response


def expect_submit(stubber: Stubber, pass_number: int = 1) -> None:
    stubber.add_response("create_model_invocation_job", {"jobArn": JOB_ARN}, {
        "jobName": f"techne-{GROUP}-p{pass_number}", "roleArn": ROLE, "clientRequestToken": ANY, "modelId": MODEL,
        "modelInvocationType": "InvokeModel",
        "inputDataConfig": {"s3InputDataConfig": {
            "s3Uri": f"s3://{BUCKET}/scratch/batch/{GROUP}/pass-{pass_number}/input/", "s3InputFormat": "JSONL"}},
        "outputDataConfig": {"s3OutputDataConfig": {
            "s3Uri": f"s3://{BUCKET}/scratch/batch/{GROUP}/pass-{pass_number}/output/"}},
        "timeoutDurationInHours": 24, "tags": ANY,
    })


def expect_describe(stubber: Stubber, status: str, message: str | None = None, pass_number: int = 1) -> None:
    stubber.add_response("get_model_invocation_job", job_status(status, message, pass_number),
                         {"jobIdentifier": JOB_ARN})


def reply_line(rid: str, text: str = "notas", stop: str = "end_turn") -> dict:
    return {"recordId": rid, "modelInput": {}, "modelOutput": {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}}, "stopReason": stop,
        "usage": {"inputTokens": 1000, "outputTokens": 200, "totalTokens": 1200}}}


def write_output(ledger: BatchLedger, pass_number: int, lines: list[dict]) -> None:
    body = "".join(json.dumps(line) + "\n" for line in lines)
    ledger.scratch.write_bytes(f"batch/{GROUP}/pass-{pass_number}/output/job0001/input.jsonl.out", body.encode())


def observations(result: dg.SensorResult) -> dict[str, dict]:
    """Partition → metadata of the batch observations of a tick (the last per partition)."""
    return {event.partition: {k: getattr(v, "value", v) for k, v in event.metadata.items()}
            for event in result.asset_events}


def test_contiguous_ranges_follow_the_partition_order_and_the_run_size():
    assert contiguous_ranges(ORDER, ["v1.mp4", "v2.mp4", "v3.mp4", "v4.mp4"], 2) == [
        ["v1.mp4", "v2.mp4"], ["v3.mp4"], ["v4.mp4"]]
    assert contiguous_ranges(ORDER, ["v4.mp4", "v1.mp4"], 50) == [["v1.mp4"], ["v4.mp4"]]
    assert contiguous_ranges(ORDER, [], 5) == []


def test_a_group_goes_from_transcripts_through_a_job_to_publication(instance, ledger, bedrock_stub):
    create_group(ledger)
    first = tick(instance)
    group = ledger.group(GROUP)
    assert (group.state, group.pass_number, group.failed) == ("writing", 1, {"v5.mp4": "no transcript"})
    requests = first.run_requests
    assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in requests] == [
        ("v1.mp4", "v2.mp4"), ("v3.mp4", "v3.mp4"), ("v4.mp4", "v4.mp4")]
    assert [r.run_key for r in requests] == [f"{GROUP}-p1-0", f"{GROUP}-p1-1", f"{GROUP}-p1-2"]
    assert all(r.tags[BATCH_GROUP_TAG] == GROUP and r.tags[BATCH_PASS_TAG] == "1"
               and r.tags[WRITER_MODE_TAG] == "batch" and r.partition_key is None for r in requests)
    assert observations(first)["v5.mp4"]["status"] == "failed"

    # A tick before the runs exist asks for the same runs under the same keys; once they exist, none.
    assert [r.run_key for r in tick(instance).run_requests] == [r.run_key for r in requests]
    runs = add_runs(instance, requests, dg.DagsterRunStatus.STARTED)
    assert tick(instance).run_requests == []
    first_records = {**deferred(ledger, 1, "v1.mp4", 2), **deferred(ledger, 1, "v2.mp4", 1),
                     **deferred(ledger, 1, "v4.mp4", 1)}
    outcome(ledger, 1, "v3.mp4", "written")
    assert ledger.group(GROUP).state == "writing"  # runs still in progress: no job yet

    finish(instance, runs)
    expect_submit(bedrock_stub)
    submitted = tick(instance)
    group = ledger.group(GROUP)
    assert (group.state, group.written, len(group.jobs)) == ("job", ["v3.mp4"], 1)
    seen = observations(submitted)["v1.mp4"]
    assert seen["job_arn"] == JOB_ARN and seen["records"] == 4 and seen["stage"] == "extract"
    assert seen["input_uri"] == f"s3://{BUCKET}/scratch/batch/{GROUP}/pass-1/input/"
    assert seen["output_uri"] == f"s3://{BUCKET}/scratch/batch/{GROUP}/pass-1/output/"

    expect_describe(bedrock_stub, "InProgress")
    assert observations(tick(instance))["v1.mp4"]["status"] == "InProgress"
    expect_describe(bedrock_stub, "InProgress")
    assert tick(instance).asset_events == []  # no change, nothing to say

    good, errored = list(first_records)[:2]
    cut, missing = list(first_records)[2:]
    write_output(ledger, 1, [reply_line(good), {"recordId": errored, "modelInput": {},
                                                "error": {"errorCode": 400, "errorMessage": "bad request"}},
                             reply_line(cut, stop="max_tokens")])
    expect_describe(bedrock_stub, "Completed")
    completed = tick(instance)
    answers = ledger.answers(GROUP)
    assert answers.answer(first_records[good]).reply.text == "notas"
    assert "bad request" in answers.answer(first_records[errored]).error
    assert "max_tokens" in answers.answer(first_records[cut]).error
    assert "completed" in answers.answer(first_records[missing]).error
    group = ledger.group(GROUP)
    assert (group.state, group.pass_number) == ("writing", 2)
    assert (group.jobs[0].status, group.jobs[0].answered, group.jobs[0].errored) == ("Completed", 1, 3)
    second = completed.run_requests
    assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG], r.run_key) for r in second] == [
        ("v1.mp4", "v2.mp4", f"{GROUP}-p2-0"), ("v4.mp4", "v4.mp4", f"{GROUP}-p2-1")]

    second_runs = add_runs(instance, second)
    for key in ("v1.mp4", "v2.mp4", "v4.mp4"):
        outcome(ledger, 2, key, "written")
    publishing = tick(instance)
    group = ledger.group(GROUP)
    assert group.state == "publishing" and sorted(group.written) == ["v1.mp4", "v2.mp4", "v3.mp4", "v4.mp4"]
    publish = publishing.run_requests
    assert sorted(r.partition_key for r in publish) == sorted(group.written)
    assert all(r.job_name == "batch_publish" and r.tags[WRITER_MODE_TAG] == "batch" for r in publish)
    assert second_runs

    add_runs(instance, publish[:3])
    add_runs(instance, publish[3:], dg.DagsterRunStatus.FAILURE)
    done = tick(instance)
    group = ledger.group(GROUP)
    assert group.state == "done" and len(group.published) == 3
    assert group.failed[publish[3].partition_key] == "the publication run failed"
    assert "3 published" in observations(done)["v1.mp4"]["message"]
    assert ledger.open_groups() == []
    assert tick(instance).run_requests == []


def test_below_the_minimum_the_next_pass_goes_on_demand_and_says_so(instance, ledger, bedrock_stub):
    create_group(ledger)
    runs = add_runs(instance, tick(instance, batch_resource(min_records=100)).run_requests)
    for key in ("v1.mp4", "v2.mp4", "v3.mp4", "v4.mp4"):
        deferred(ledger, 1, key, 3)
    fallback = tick(instance, batch_resource(min_records=100))  # the Stubber refuses any job submission
    group = ledger.group(GROUP)
    assert (group.state, group.pass_number, group.jobs) == ("writing", 2, [])
    assert group.on_demand_reason == "12 records < minimum 100"
    assert "on-demand (12 records < minimum 100)" in observations(fallback)["v1.mp4"]["message"]
    assert runs and len(fallback.run_requests) == 3
    # No job ever ran: its runs, and so its tracking records, say the videos went on-demand.
    assert {r.tags[WRITER_MODE_TAG] for r in fallback.run_requests} == {"on-demand"}


def test_a_failed_job_without_output_errors_every_record(instance, ledger, bedrock_stub):
    create_group(ledger)
    add_runs(instance, tick(instance).run_requests)
    records = {**deferred(ledger, 1, "v1.mp4", 2), **deferred(ledger, 1, "v4.mp4", 2)}
    for key in ("v2.mp4", "v3.mp4"):
        outcome(ledger, 1, key, "written")
    expect_submit(bedrock_stub)
    tick(instance)
    expect_describe(bedrock_stub, "Failed", "role cannot read the input")
    failed = tick(instance)
    answers = ledger.answers(GROUP)
    assert {answers.answer(d).error for d in records.values()} == {"job failed: role cannot read the input"}
    group = ledger.group(GROUP)
    assert group.state == "writing" and group.jobs[0].status == "Failed" and group.jobs[0].errored == 4
    assert "role cannot read the input" in observations(failed)["v1.mp4"]["message"]


def error_line(rid: str) -> dict:
    return {"recordId": rid, "modelInput": {}, "error": {"errorCode": 400, "errorMessage": "tool use unsupported"}}


@pytest.mark.parametrize(("errored", "goes_on_demand"), [(1, False), (3, True)])
def test_a_job_whose_records_mostly_err_sends_the_rest_of_the_group_on_demand(
        instance, ledger, bedrock_stub, errored, goes_on_demand):
    """Errored records are retried on-demand, each paid twice: past half of a job, later stages
    stop going through batch."""
    create_group(ledger)
    add_runs(instance, tick(instance).run_requests)
    records = list({**deferred(ledger, 1, "v1.mp4", 2), **deferred(ledger, 1, "v4.mp4", 2)})
    for key in ("v2.mp4", "v3.mp4"):
        outcome(ledger, 1, key, "written")
    expect_submit(bedrock_stub)
    tick(instance)
    write_output(ledger, 1, [error_line(rid) for rid in records[:errored]]
                 + [reply_line(rid) for rid in records[errored:]])
    expect_describe(bedrock_stub, "Completed")
    after = tick(instance)
    group = ledger.group(GROUP)
    assert (group.state, group.pass_number, group.jobs[0].errored) == ("writing", 2, errored)
    if goes_on_demand:
        assert group.on_demand_reason == (f"job techne-{GROUP}-p1: 3 of 4 records in error, above "
                                          "TECHNE_BATCH_MAX_UNUSABLE_SHARE 0.5: the rest of the group goes on-demand")
        assert "3 of 4 records in error" in observations(after)["v1.mp4"]["message"]
    else:
        assert group.on_demand_reason is None


def test_a_stopped_job_is_resumed_by_a_new_job_of_the_unanswered_records(instance, ledger, bedrock_stub):
    create_group(ledger)
    add_runs(instance, tick(instance).run_requests)
    records = {**deferred(ledger, 1, "v1.mp4", 3), **deferred(ledger, 1, "v4.mp4", 2)}
    for key in ("v2.mp4", "v3.mp4"):
        outcome(ledger, 1, key, "written")
    expect_submit(bedrock_stub)
    tick(instance)
    answered = list(records)[:2]
    write_output(ledger, 1, [reply_line(rid) for rid in answered])
    expect_describe(bedrock_stub, "Stopped", "stopped by an operator")
    resumed = tick(instance)
    answers = ledger.answers(GROUP)
    assert [rid for rid, d in records.items() if answers.answer(d) is not None] == answered
    assert ledger.group(GROUP).pass_number == 2

    # The next pass defers only what the stopped job left unanswered, into a job of its own.
    add_runs(instance, resumed.run_requests)
    deferred(ledger, 2, "v1.mp4", 3, stage="extract-again")
    expect_submit(bedrock_stub, pass_number=2)
    tick(instance)
    group = ledger.group(GROUP)
    assert group.state == "job" and [job.job_name for job in group.jobs] == [f"techne-{GROUP}-p1", f"techne-{GROUP}-p2"]


def test_a_failed_video_in_a_range_sends_the_others_of_the_range_alone(instance, ledger, bedrock_stub):
    create_group(ledger)
    add_runs(instance, tick(instance).run_requests)
    outcome(ledger, 1, "v1.mp4", "written")
    outcome(ledger, 1, "v2.mp4", "failed", "v2.mp4: the model did not call the forced tool")
    outcome(ledger, 1, "v3.mp4", "written")
    outcome(ledger, 1, "v4.mp4", "written")
    final = tick(instance)
    group = ledger.group(GROUP)
    assert group.written == ["v3.mp4", "v4.mp4"] and group.failed["v2.mp4"].endswith("forced tool")
    (alone,) = final.run_requests
    assert (alone.tags[RANGE_START_TAG], alone.tags[RANGE_END_TAG], alone.tags[BATCH_FINAL_TAG]) == (
        "v1.mp4", "v1.mp4", "1")
    assert observations(final)["v2.mp4"]["status"] == "failed"
    (notice,) = sent_notices(instance)
    assert notice["attributes"]["status"] == "FAILED" and "v2.mp4" in notice["subject"]
    assert "forced tool" in notice["body"]
    (pass_run,) = [r for r in instance.get_runs() if r.tags.get(RANGE_START_TAG) == "v1.mp4"]
    record = SqliteTracker(Path(instance.root_directory) / "tracking.sqlite3").get(f"{pass_run.run_id}/v2.mp4")
    assert (record.status, record.partition_key, record.writer_mode) == (RunStatus.FAILED, "v2.mp4", "batch")
    assert record.error == "draft: v2.mp4: the model did not call the forced tool"
    tick(instance)  # a later tick of the same pass does not announce it again
    assert len(sent_notices(instance)) == 1


def test_a_video_whose_run_died_twice_without_a_result_fails(instance, ledger, bedrock_stub):
    create_group(ledger)
    first = tick(instance).run_requests
    add_runs(instance, first[:1], dg.DagsterRunStatus.FAILURE)  # v1, v2: the run died
    add_runs(instance, first[1:])
    outcome(ledger, 1, "v3.mp4", "written")
    outcome(ledger, 1, "v4.mp4", "written")
    relaunch = tick(instance).run_requests
    assert [(r.tags[RANGE_START_TAG], r.tags[RANGE_END_TAG]) for r in relaunch] == [("v1.mp4", "v1.mp4"),
                                                                                    ("v2.mp4", "v2.mp4")]
    add_runs(instance, relaunch, dg.DagsterRunStatus.FAILURE)
    tick(instance)
    group = ledger.group(GROUP)
    assert group.state == "publishing"
    assert group.failed["v1.mp4"] == group.failed["v2.mp4"] == "the draft run ended without writing it"


def test_partitions_of_an_open_group_are_busy(instance, ledger, bedrock_stub):
    create_group(ledger)
    busy = busy_partitions(instance, ledger.open_groups())
    assert busy["v1.mp4"] == f"in batch group {GROUP}" and "outsider.mp4" not in busy
    done = ledger.group(GROUP).model_copy(update={"state": "done"})
    ledger.save_group(done)
    assert busy_partitions(instance, ledger.open_groups()) == {}


def observe_call(instance, run: dg.DagsterRun, partition: str, cost: float) -> None:
    """A model call the draft step logged in `run` for `partition` (as `_call_observation` does)."""
    observation = dg.AssetObservation("draft", partition=partition, description=MODEL_CALL_OBSERVATION,
                                      metadata={"input_tokens": 1000, "output_tokens": 200, "cost_usd": cost})
    event = DagsterEvent(event_type_value=DagsterEventType.ASSET_OBSERVATION.value, job_name=run.job_name,
                         event_specific_data=AssetObservationData(observation))
    instance.report_dagster_event(event, run_id=run.run_id)


def test_a_batch_video_is_tracked_and_announced_with_its_mode_and_its_draft_cost(instance, tmp_path):
    tracking = TrackingResource(profile="local", state_dir=str(tmp_path))
    notifier = NotifierResource(profile="local", state_dir=str(tmp_path))
    group_tags = {BATCH_GROUP_TAG: GROUP, WRITER_MODE_TAG: "batch"}
    passes = [dg.DagsterRun(job_name="batch_draft", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.SUCCESS,
                            tags={**group_tags, BATCH_PASS_TAG: str(n)}) for n in (1, 2)]
    other = dg.DagsterRun(job_name="process_video", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.SUCCESS,
                          tags={"dagster/partition": "v1.mp4"})
    for run in [*passes, other]:
        instance.add_run(run)
    observe_call(instance, passes[0], "v1.mp4", 0.25)  # extraction, deferred then answered in batch
    observe_call(instance, passes[1], "v1.mp4", 0.5)
    observe_call(instance, passes[1], "v2.mp4", 4.0)   # another video of the same range
    observe_call(instance, other, "v1.mp4", 8.0)       # an earlier on-demand run of the video
    publish = dg.DagsterRun(job_name="batch_publish", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.SUCCESS,
                            tags={**group_tags, BATCH_PASS_TAG: "publish", "dagster/partition": "v1.mp4"})
    instance.add_run(publish)

    record = report_run(instance, publish, tracking, notifier)
    assert (record.writer_mode, record.cost_usd, record.input_tokens) == ("batch", 0.75, 2000)
    (notice,) = [json.loads(line) for line in (tmp_path / "notifications.log").read_text().splitlines()]
    assert notice["attributes"]["writer_mode"] == "batch" and "lote (Bedrock batch)" in notice["body"]
    assert report_run(instance, other, tracking, notifier).writer_mode == "on-demand"


def test_a_backfill_launched_with_the_batch_tag_gets_its_group(instance, ledger, bedrock_stub):
    from dagster._core.execution.backfill import PartitionBackfill

    from techne_assets.definitions import defs

    backfill = PartitionBackfill.from_asset_partitions(
        backfill_id="uibackfl", asset_graph=defs().resolve_asset_graph(), partition_names=["v4.mp4", "v1.mp4"],
        asset_selection=[dg.AssetKey("video"), dg.AssetKey("transcript")], backfill_timestamp=0.0,
        tags={WRITER_MODE_TAG: "batch"}, dynamic_partitions_store=instance, all_partitions=False,
        title=None, description=None, run_config=None,
    )
    instance.add_backfill(backfill)
    first = tick(instance)
    group = ledger.group("uibackfl")
    assert group.partition_keys == ["v1.mp4", "v4.mp4"] and group.on_demand_reason is None
    assert json.loads(first.cursor) == ["uibackfl"]
    # The backfill is still running: the group waits for its transcripts, and is created once.
    assert ledger.group("uibackfl").state == "transcribing"
    tick(instance, cursor=first.cursor)
    assert [g.group_id for g in ledger.open_groups()] == ["uibackfl"]
    # Transcripts older than the group do not count; once both videos have a new one, the group
    # moves on even though the backfill daemon has not marked the backfill done yet.
    instance.report_runless_asset_event(dg.AssetMaterialization("transcript", partition="v1.mp4"))
    assert ledger.group("uibackfl").state == "transcribing"
    tick(instance, cursor=first.cursor)
    assert ledger.group("uibackfl").state == "transcribing"
    instance.report_runless_asset_event(dg.AssetMaterialization("transcript", partition="v4.mp4"))
    moved = tick(instance, cursor=first.cursor)
    assert ledger.group("uibackfl").state == "writing" and len(moved.run_requests) == 2


def test_the_inbox_sensor_leaves_a_video_of_an_open_group_to_the_group(tmp_path, monkeypatch):
    from techne_assets.defs.sensors import inbox_sensor

    inbox, store = tmp_path / "inbox", tmp_path / "store"
    inbox.mkdir()
    (inbox / "v1.mp4").write_bytes(b"\x00" * 64)
    (inbox / "nova.mp4").write_bytes(b"\x00" * 64)
    for name, value in {"TECHNE_INPUT_URI": inbox, "TECHNE_STORE_URI": store,
                        "TECHNE_SCRATCH_URI": tmp_path / "scratch"}.items():
        monkeypatch.setenv(name, str(value))
    local = BatchLedger(storage_from_uri(str(store)), storage_from_uri(str(tmp_path / "scratch")))
    local.create_group(BatchGroup(group_id=GROUP, partition_keys=["v1.mp4"], model_id=MODEL, created_at="2026"))
    with dg.DagsterInstance.ephemeral() as instance:
        first = inbox_sensor(dg.build_sensor_context(instance=instance))
        result = inbox_sensor(dg.build_sensor_context(instance=instance, cursor=first.cursor))
    assert [r.partition_key for r in result.run_requests] == ["nova.mp4"]
