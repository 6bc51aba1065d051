"""The batch adapter: control-plane calls (botocore Stubber) and JSONL files on moto's S3."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import boto3
import pytest
from botocore.stub import ANY, Stubber

from techne_assets.adapters.bedrock_batch import (
    BatchJobError,
    BedrockBatchJobs,
    converse_record,
    read_manifest,
    read_outputs,
    write_records,
)
from techne_assets.adapters.storage import LocalStorage, S3Storage

ARN = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefgh1234"
ROLE = "arn:aws:iam::123456789012:role/techne-batch"
MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
INPUT = "s3://scratch/batch/g1/pass-1/input/"
OUTPUT = "s3://scratch/batch/g1/pass-1/output/"


@pytest.fixture
def stubbed():
    client = boto3.client(
        "bedrock", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with Stubber(client) as stubber:
        yield BedrockBatchJobs(client), stubber
        stubber.assert_no_pending_responses()


def test_submit_creates_an_invoke_model_job_with_the_expected_parameters(stubbed):
    jobs, stubber = stubbed
    stubber.add_response(
        "create_model_invocation_job",
        {"jobArn": ARN},
        {
            "jobName": "techne-g1-p1-extract",
            "roleArn": ROLE,
            "clientRequestToken": ANY,
            "modelId": MODEL,
            "modelInvocationType": "InvokeModel",
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": INPUT, "s3InputFormat": "JSONL"}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": OUTPUT}},
            "timeoutDurationInHours": 72,
            "tags": [{"key": "techne/batch_group", "value": "g1"}],
        },
    )
    arn = jobs.submit(
        job_name="techne-g1-p1-extract",
        model_id=MODEL,
        role_arn=ROLE,
        input_uri=INPUT,
        output_uri=OUTPUT,
        timeout_hours=72,
        tags={"techne/batch_group": "g1"},
    )
    assert arn == ARN


def test_submitting_the_same_name_twice_sends_the_same_idempotency_token(stubbed):
    jobs, stubber = stubbed
    tokens = []
    for _ in range(2):
        stubber.add_response("create_model_invocation_job", {"jobArn": ARN})
    stubber.client.meta.events.register(
        "before-parameter-build.bedrock.CreateModelInvocationJob",
        lambda params, **_: tokens.append(params["clientRequestToken"]),
    )
    for _ in range(2):
        jobs.submit(
            job_name="techne-g1-p1-merge",
            model_id=MODEL,
            role_arn=ROLE,
            input_uri=INPUT,
            output_uri=OUTPUT,
            timeout_hours=24,
            tags={},
        )
    assert tokens[0] == tokens[1]


def test_a_refused_submission_is_one_line_with_the_code(stubbed):
    jobs, stubber = stubbed
    stubber.add_client_error(
        "create_model_invocation_job",
        service_error_code="ValidationException",
        service_message="The number of records (12) is less than the minimum (100).",
        http_status_code=400,
    )
    with pytest.raises(BatchJobError, match=r"ValidationException.*12.*100") as raised:
        jobs.submit(
            job_name="techne-g1-p1-merge",
            model_id=MODEL,
            role_arn=ROLE,
            input_uri=INPUT,
            output_uri=OUTPUT,
            timeout_hours=24,
            tags={},
        )
    assert raised.value.code == "ValidationException"


def test_an_invalid_job_name_is_refused_before_calling(stubbed):
    jobs, _ = stubbed
    with pytest.raises(ValueError, match="job name"):
        jobs.submit(
            job_name="techne/g1:extract",
            model_id=MODEL,
            role_arn=ROLE,
            input_uri=INPUT,
            output_uri=OUTPUT,
            timeout_hours=24,
            tags={},
        )


def test_describe_reads_status_message_times_and_locations(stubbed):
    jobs, stubber = stubbed
    submitted = datetime(2026, 12, 1, 22, 0, tzinfo=UTC)
    ended = datetime(2026, 12, 1, 23, 30, tzinfo=UTC)
    stubber.add_response(
        "get_model_invocation_job",
        {
            "jobArn": ARN,
            "jobName": "techne-g1-p1-extract",
            "modelId": MODEL,
            "roleArn": ROLE,
            "status": "Stopped",
            "message": "Stopped by the operator.",
            "submitTime": submitted,
            "endTime": ended,
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": INPUT}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": OUTPUT}},
            "totalRecordCount": 120,
            "processedRecordCount": 60,
            "successRecordCount": 58,
            "errorRecordCount": 2,
        },
        {"jobIdentifier": ARN},
    )
    status = jobs.describe(ARN)
    assert status.status == "Stopped" and status.finished
    assert status.message == "Stopped by the operator."
    assert status.submitted_at == submitted.isoformat()
    assert status.ended_at == ended.isoformat()
    assert (status.input_uri, status.output_uri) == (INPUT, OUTPUT)
    assert (status.processed_records, status.error_records) == (60, 2)


def test_a_running_job_is_not_finished(stubbed):
    jobs, stubber = stubbed
    stubber.add_response(
        "get_model_invocation_job",
        {
            "jobArn": ARN,
            "modelId": MODEL,
            "roleArn": ROLE,
            "status": "InProgress",
            "submitTime": datetime(2026, 12, 1, tzinfo=UTC),
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": INPUT}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": OUTPUT}},
        },
    )
    status = jobs.describe(ARN)
    assert not status.finished and status.ended_at is None and status.message is None


def test_an_unknown_job_is_a_batch_error(stubbed):
    jobs, stubber = stubbed
    stubber.add_client_error(
        "get_model_invocation_job", "ResourceNotFoundException", "no such job", 404
    )
    with pytest.raises(BatchJobError, match="ResourceNotFoundException"):
        jobs.describe(ARN)


def test_stop_asks_the_service_and_tolerates_a_job_that_already_ended(stubbed):
    jobs, stubber = stubbed
    stubber.add_response("stop_model_invocation_job", {}, {"jobIdentifier": ARN})
    stubber.add_client_error(
        "stop_model_invocation_job", "ConflictException", "job already completed", 400
    )
    assert jobs.stop(ARN) is True
    assert jobs.stop(ARN) is False


def test_stop_refused_for_access_is_an_error(stubbed):
    jobs, stubber = stubbed
    stubber.add_client_error("stop_model_invocation_job", "AccessDeniedException", "denied", 403)
    with pytest.raises(BatchJobError, match="AccessDeniedException"):
        jobs.stop(ARN)


@pytest.fixture
def scratch(aws_env):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="scratch")
    return S3Storage("scratch", "techne")


def test_records_written_to_s3_are_jsonl_lines(scratch):
    records = [
        converse_record(f"rec{n}", dict(stage="merge", system="s", prompt=f"p{n}", max_tokens=10))
        for n in range(3)
    ]
    write_records(scratch, "batch/g1/pass-1/input/a.mp4.jsonl", records)
    raw = scratch.read_bytes("batch/g1/pass-1/input/a.mp4.jsonl").decode()
    assert [json.loads(line) for line in raw.splitlines()] == records
    with pytest.raises(ValueError, match=".jsonl"):
        write_records(scratch, "batch/g1/pass-1/input/a.json", records)


def test_outputs_are_read_from_every_out_file_of_the_job_folder(scratch):
    folder = "batch/g1/pass-1/output/abcdefgh1234"
    scratch.write_bytes(
        f"{folder}/a.mp4.jsonl.out",
        b'{"recordId": "r1", "modelOutput": {}}\nnot json\n\n[1, 2]\n{"recordId": "r2", "error": {}}\n',
    )
    scratch.write_bytes(f"{folder}/b.mp4.jsonl.out", b'{"recordId": "r3", "modelOutput": {}}\n')
    scratch.write_bytes(
        f"{folder}/manifest.json.out",
        json.dumps(
            {"totalRecordCount": 4, "processedRecordCount": 3, "errorRecordCount": 1}
        ).encode(),
    )
    scratch.write_bytes("batch/g1/pass-2/output/x/c.mp4.jsonl.out", b'{"recordId": "other"}\n')
    output_uri = scratch.uri("batch/g1/pass-1/output/")
    assert [line["recordId"] for line in read_outputs(scratch, output_uri)] == ["r1", "r2", "r3"]
    assert [line["recordId"] for line in read_outputs(scratch, "batch/g1/pass-1/output")] == [
        "r1",
        "r2",
        "r3",
    ]
    assert BedrockBatchJobs.output_files(scratch, output_uri) == [
        f"{folder}/a.mp4.jsonl.out",
        f"{folder}/b.mp4.jsonl.out",
    ]
    assert read_manifest(scratch, output_uri) == {
        "totalRecordCount": 4,
        "processedRecordCount": 3,
        "errorRecordCount": 1,
    }
    assert read_manifest(scratch, "batch/g1/pass-2/output") is None
    assert list(read_outputs(scratch, "batch/g1/pass-9/output")) == []


def test_an_output_uri_outside_the_storage_is_refused(scratch):
    with pytest.raises(ValueError, match="not under"):
        list(read_outputs(scratch, "s3://elsewhere/batch/g1/pass-1/output/"))


def test_outputs_in_a_local_folder_are_found_by_path_too(tmp_path):
    storage = LocalStorage(tmp_path)
    storage.write_bytes("batch/g1/pass-1/output/job1/a.jsonl.out", b'{"recordId": "r1"}\n')
    output = storage.uri("batch/g1/pass-1/output")
    assert [line["recordId"] for line in read_outputs(storage, output)] == ["r1"]
    assert [line["recordId"] for line in read_outputs(storage, storage.root_uri)] == ["r1"]
