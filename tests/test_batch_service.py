"""The batch-job stand-in, through a real boto3 `bedrock` client and moto's S3 over HTTP."""

from __future__ import annotations

import time

import boto3
import pytest

from techne_assets.adapters.bedrock_batch import (
    BatchJobError,
    BedrockBatchJobs,
    answers_from_output,
    converse_record,
    read_manifest,
    read_outputs,
    write_records,
)
from techne_assets.adapters.storage import S3Storage
from techne_assets.core.pricing import ModelPrice
from techne_assets.core.writing.base import ToolSpec
from techne_assets.testing.batch_service import BatchService
from techne_assets.testing.clock import FakeClock
from techne_assets.testing.converse_simulator import CannedReply, ConverseCall

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
ROLE = "arn:aws:iam::123456789012:role/techne-batch"
PRICE = ModelPrice(input=1.5, output=7.5, cache_write=0.0, cache_read=0.0)
TOOL = ToolSpec(
    name="registrar_roteiro",
    description="Registra o roteiro.",
    input_schema={"type": "object", "properties": {"entries": {"type": "array"}}},
)
TURNAROUND = 100.0


def echo_prompt(call: ConverseCall) -> CannedReply:
    """Answers the forced tool with the record's own prompt, so answers can be told apart."""
    prompt = call.body["messages"][0]["content"][-1]["text"]
    return CannedReply(tool_input={"entries": [prompt]})


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def service(aws_env, clock, monkeypatch):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="scratch")
    with BatchService(
        responder=echo_prompt, min_records=5, turnaround_seconds=TURNAROUND, clock=clock
    ) as running:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", running.endpoint_url)
        yield running


@pytest.fixture
def scratch(service):
    return S3Storage("scratch", "techne")


@pytest.fixture
def jobs(service):
    return BedrockBatchJobs(boto3.client("bedrock", region_name="us-east-1"))


def requests(count: int, start: int = 0) -> dict[str, dict]:
    """record id → its record."""
    return {
        f"rec{n:03d}": converse_record(
            f"rec{n:03d}",
            dict(stage="merge", system="sistema", prompt=f"pedido {n}", max_tokens=500, tool=TOOL),
        )
        for n in range(start, start + count)
    }


def submit(jobs, scratch, records: dict[str, dict], pass_number: int = 1) -> str:
    write_records(scratch, f"batch/g1/pass-{pass_number}/input/a.jsonl", list(records.values()))
    return jobs.submit(
        job_name=f"techne-g1-p{pass_number}",
        model_id=MODEL,
        role_arn=ROLE,
        input_uri=scratch.uri(f"batch/g1/pass-{pass_number}/input/"),
        output_uri=scratch.uri(f"batch/g1/pass-{pass_number}/output/"),
        timeout_hours=24,
        tags={"techne/batch_group": "g1"},
    )


def output_lines(scratch, pass_number: int = 1) -> list[dict]:
    return list(read_outputs(scratch, f"batch/g1/pass-{pass_number}/output/"))


def test_a_job_moves_through_its_statuses_and_writes_shuffled_answers(
    service, jobs, scratch, clock
):
    records = requests(20)
    arn = submit(jobs, scratch, records)
    assert arn.startswith("arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/")
    assert jobs.describe(arn).status == "Submitted"
    clock.advance(0.06 * TURNAROUND)
    assert jobs.describe(arn).status == "Validating"
    clock.advance(0.44 * TURNAROUND)
    halfway = jobs.describe(arn)
    assert halfway.status == "InProgress"
    assert 0 < halfway.processed_records < 20
    assert output_lines(scratch) == []  # output appears when the job ends
    clock.advance(0.5 * TURNAROUND)
    done = jobs.describe(arn)
    assert done.status == "Completed" and done.finished
    assert done.ended_at is not None and done.ended_at > done.submitted_at

    lines = output_lines(scratch)
    job_id = arn.rsplit("/", 1)[1]
    assert BedrockBatchJobs.output_files(scratch, done.output_uri) == [
        f"batch/g1/pass-1/output/{job_id}/a.jsonl.out"
    ]
    assert sorted(line["recordId"] for line in lines) == sorted(records)
    assert [line["recordId"] for line in lines] != list(records)  # not in input order
    assert all(line["modelInput"] == records[line["recordId"]]["modelInput"] for line in lines)
    answers = answers_from_output(
        lines,
        digests={record: f"digest-{record}" for record in records},
        stage_labels={record: "merge" for record in records},
        model_id=MODEL,
        price=PRICE,
    )
    by_digest = {answer.digest: answer for answer in answers}
    assert by_digest["digest-rec007"].reply.tool_input == {"entries": ["pedido 7"]}
    assert all(answer.reply.usage.cost_usd > 0 for answer in answers)
    assert read_manifest(scratch, done.output_uri) == {
        "totalRecordCount": 20,
        "processedRecordCount": 20,
        "successRecordCount": 20,
        "errorRecordCount": 0,
        "inputTokenCount": sum(answer.reply.usage.input_tokens for answer in answers),
        "outputTokenCount": sum(answer.reply.usage.output_tokens for answer in answers),
    }
    # The answers came from the simulator's Converse handler, with the forced tool's schema.
    assert {call.tool_name for call in service.simulator.calls} == {TOOL.name}
    assert all(call.input_schema == TOOL.input_schema for call in service.simulator.calls)


def test_every_nth_record_errors_and_the_job_is_partially_completed(service, jobs, scratch, clock):
    service.error_every = 4
    arn = submit(jobs, scratch, requests(12))
    clock.advance(TURNAROUND)
    status = jobs.describe(arn)
    assert status.status == "PartiallyCompleted"
    assert (status.success_records, status.error_records) == (9, 3)
    errors = {line["recordId"]: line["error"] for line in output_lines(scratch) if "error" in line}
    assert sorted(errors) == ["rec003", "rec007", "rec011"]
    assert all(set(error) == {"errorCode", "errorMessage"} for error in errors.values())
    assert read_manifest(scratch, status.output_uri)["errorRecordCount"] == 3


def test_a_stopped_job_leaves_the_output_of_what_it_processed(service, jobs, scratch, clock):
    arn = submit(jobs, scratch, requests(20))
    clock.advance(0.55 * TURNAROUND)
    processed = jobs.describe(arn).processed_records
    assert 0 < processed < 20
    assert jobs.stop(arn) is True
    assert jobs.describe(arn).status == "Stopping"
    clock.advance(0.05 * TURNAROUND)
    stopped = jobs.describe(arn)
    assert stopped.status == "Stopped" and stopped.message
    assert len(output_lines(scratch)) == processed == stopped.processed_records
    assert read_manifest(scratch, stopped.output_uri)["totalRecordCount"] == 20
    assert jobs.stop(arn) is False  # ConflictException: it already ended


def test_stop_after_records_stops_the_next_job_midway(service, jobs, scratch, clock):
    service.stop_after_records = 7
    first = submit(jobs, scratch, requests(20))
    clock.advance(TURNAROUND)
    assert jobs.describe(first).status == "Stopped"
    assert len(output_lines(scratch)) == 7
    second = submit(jobs, scratch, requests(20), pass_number=2)
    clock.advance(TURNAROUND)
    assert jobs.describe(second).status == "Completed"  # the knob applies once


def test_resuming_sends_only_what_was_not_answered(service, jobs, scratch, clock):
    service.stop_after_records = 8
    records = requests(20)
    first = submit(jobs, scratch, records)
    clock.advance(TURNAROUND)
    assert jobs.describe(first).status == "Stopped"
    answered = {line["recordId"] for line in output_lines(scratch)}
    remaining = {record: line for record, line in records.items() if record not in answered}
    second = submit(jobs, scratch, remaining, pass_number=2)
    clock.advance(TURNAROUND)
    assert jobs.describe(second).status == "Completed"
    assert service.records_received == {first: 20, second: 12}
    assert not answered & set(service.record_ids_received[second])
    assert {line["recordId"] for line in output_lines(scratch, 2)} == set(remaining)


def test_a_failed_job_has_a_message_and_no_output(service, jobs, scratch, clock):
    service.fail_next_job = True
    arn = submit(jobs, scratch, requests(10))
    clock.advance(TURNAROUND)
    failed = jobs.describe(arn)
    assert failed.status == "Failed" and failed.finished
    assert "could not be processed" in failed.message
    assert output_lines(scratch) == []
    assert read_manifest(scratch, failed.output_uri) is None


def test_a_job_past_its_timeout_expires_with_partial_output(service, jobs, scratch, clock):
    service.turnaround_seconds = 48 * 3600
    arn = submit(jobs, scratch, requests(10))
    clock.advance(30 * 3600)
    expired = jobs.describe(arn)
    assert expired.status == "Expired"
    assert 0 < len(output_lines(scratch)) < 10


def test_too_few_records_is_a_validation_exception(service, jobs, scratch):
    with pytest.raises(BatchJobError, match=r"ValidationException.*\(3\).*\(5\)") as raised:
        submit(jobs, scratch, requests(3))
    assert raised.value.code == "ValidationException"
    assert service.job_arns() == []


def test_an_unknown_job_is_not_found(service, jobs):
    missing = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/zzzzzzzzzzzz"
    with pytest.raises(BatchJobError, match="ResourceNotFoundException"):
        jobs.describe(missing)
    with pytest.raises(BatchJobError, match="ResourceNotFoundException"):
        jobs.stop(missing)


def test_the_same_request_token_returns_the_same_job(service, jobs, scratch):
    records = requests(6)
    assert submit(jobs, scratch, records) == submit(jobs, scratch, records)
    assert len(service.job_arns()) == 1


def test_jobs_are_listed_with_their_status(service, jobs, scratch, clock):
    first = submit(jobs, scratch, requests(6))
    clock.advance(TURNAROUND)
    second = submit(jobs, scratch, requests(6), pass_number=2)
    client = boto3.client("bedrock", region_name="us-east-1")
    listed = client.list_model_invocation_jobs()["invocationJobSummaries"]
    assert [(job["jobArn"], job["status"]) for job in listed] == [
        (second, "Submitted"),
        (first, "Completed"),
    ]
    done = client.list_model_invocation_jobs(statusEquals="Completed")["invocationJobSummaries"]
    assert [job["jobArn"] for job in done] == [first]
    pages = client.get_paginator("list_model_invocation_jobs").paginate(
        PaginationConfig={"PageSize": 1}
    )
    assert sum(len(page["invocationJobSummaries"]) for page in pages) == 2


def test_a_scaled_clock_finishes_a_long_job_quickly(aws_env, monkeypatch):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="scratch")
    with BatchService(
        responder=echo_prompt, min_records=5, turnaround_seconds=3600, time_scale=0.0002
    ) as service:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", service.endpoint_url)
        jobs = BedrockBatchJobs(boto3.client("bedrock", region_name="us-east-1"))
        scratch = S3Storage("scratch", "techne")
        arn = submit(jobs, scratch, requests(5))
        deadline = time.monotonic() + 10
        while not (status := jobs.describe(arn)).finished and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status.status == "Completed"
        assert len(output_lines(scratch)) == 5


def test_an_output_the_service_cannot_write_fails_the_job(service, jobs, scratch, clock):
    write_records(scratch, "batch/g1/pass-1/input/a.jsonl", list(requests(6).values()))
    arn = jobs.submit(
        job_name="techne-g1-p1",
        model_id=MODEL,
        role_arn=ROLE,
        input_uri=scratch.uri("batch/g1/pass-1/input/"),
        output_uri="s3://no-such-bucket/batch/g1/pass-1/output/",
        timeout_hours=24,
        tags={},
    )
    clock.advance(TURNAROUND)
    failed = jobs.describe(arn)
    assert failed.status == "Failed"
    assert "no-such-bucket" in failed.message


def test_input_records_get_an_id_when_they_have_none_and_bad_ids_are_refused(
    service, jobs, scratch, clock
):
    records = [{"modelInput": line["modelInput"]} for line in requests(6).values()]
    write_records(scratch, "batch/g1/pass-1/input/a.jsonl", records)
    arn = jobs.submit(
        job_name="techne-g1-p1",
        model_id=MODEL,
        role_arn=ROLE,
        input_uri=scratch.uri("batch/g1/pass-1/input/a.jsonl"),
        output_uri=scratch.uri("batch/g1/pass-1/output/"),
        timeout_hours=24,
        tags={},
    )
    assert all(len(record) == 11 for record in service.record_ids_received[arn])
    write_records(
        scratch,
        "batch/g1/pass-2/input/a.jsonl",
        [{**line, "recordId": "no/slashes"} for line in requests(6).values()],
    )
    with pytest.raises(BatchJobError, match="invalid recordId"):
        jobs.submit(
            job_name="techne-g1-p2",
            model_id=MODEL,
            role_arn=ROLE,
            input_uri=scratch.uri("batch/g1/pass-2/input/"),
            output_uri=scratch.uri("batch/g1/pass-2/output/"),
            timeout_hours=24,
            tags={},
        )


def test_a_converse_job_answers_plain_records_and_fails_records_with_tools(
    service, jobs, scratch, clock
):
    """As documented: batch with the Converse invocation type does not support tool calling."""
    with_tool = {
        "messages": [{"role": "user", "content": [{"text": "com ferramenta"}]}],
        "inferenceConfig": {"maxTokens": 100},
        "toolConfig": {
            "tools": [
                {"toolSpec": {"name": TOOL.name, "description": "d", "inputSchema": {"json": {}}}}
            ]
        },
    }
    plain = {
        "messages": [{"role": "user", "content": [{"text": "sem ferramenta"}]}],
        "inferenceConfig": {"maxTokens": 100},
    }
    lines = [{"recordId": f"t{n}", "modelInput": with_tool} for n in range(3)] + [
        {"recordId": f"p{n}", "modelInput": plain} for n in range(3)
    ]
    write_records(scratch, "batch/g1/pass-1/input/a.jsonl", lines)
    client = boto3.client("bedrock", region_name="us-east-1")
    arn = client.create_model_invocation_job(
        jobName="techne-g1-converse",
        roleArn=ROLE,
        modelId=MODEL,
        modelInvocationType="Converse",
        inputDataConfig={"s3InputDataConfig": {"s3Uri": scratch.uri("batch/g1/pass-1/input/")}},
        outputDataConfig={"s3OutputDataConfig": {"s3Uri": scratch.uri("batch/g1/pass-1/output/")}},
    )["jobArn"]
    clock.advance(TURNAROUND)
    assert jobs.describe(arn).status == "PartiallyCompleted"
    outputs = {line["recordId"]: line for line in output_lines(scratch)}
    assert all(outputs[f"t{n}"]["error"]["errorCode"] == 400 for n in range(3))
    # Answered in the Converse response shape.
    assert all("message" in outputs[f"p{n}"]["modelOutput"]["output"] for n in range(3))


def test_a_native_record_the_model_would_reject_is_an_error_line(service, jobs, scratch, clock):
    records = requests(6)
    broken = dict(records["rec000"], modelInput={"messages": []})
    arn = submit(jobs, scratch, {**records, "rec000": broken})
    clock.advance(TURNAROUND)
    assert jobs.describe(arn).error_records == 1
    errors = [line for line in output_lines(scratch) if "error" in line]
    assert [line["recordId"] for line in errors] == ["rec000"]
    assert "anthropic_version" in errors[0]["error"]["errorMessage"]
