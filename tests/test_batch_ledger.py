"""The batch ledger keeps groups, pass results, records and answers, on a folder and on S3."""

from __future__ import annotations

import json

import boto3
import pytest

from techne_assets.adapters.batch_ledger import (
    BatchGroup,
    BatchJobRecord,
    BatchLedger,
    GroupExistsError,
    PassResult,
)
from techne_assets.adapters.storage import LocalStorage, S3Storage
from techne_assets.core.errors import InputError
from techne_assets.core.writing.base import CallUsage, ModelReply
from techne_assets.core.writing.batch_records import BatchAnswer

BUCKET = "ledger-work"


@pytest.fixture(params=["local", "s3"])
def ledger(request, tmp_path) -> BatchLedger:
    if request.param == "local":
        return BatchLedger(LocalStorage(tmp_path / "store"), LocalStorage(tmp_path / "scratch"))
    request.getfixturevalue("aws_env")  # moto S3 over HTTP
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    return BatchLedger(S3Storage(BUCKET, "store/"), S3Storage(BUCKET, "scratch/"))


def _group(group_id: str = "abcdwxyz", **changes) -> BatchGroup:
    values = dict(
        group_id=group_id,
        partition_keys=["2024/aula 01.mp4", "2024/aula 02.mp4", "Configuração %5Bparte 1%5D.mp4"],
        model_id="us.anthropic.claude-sonnet-4-20250514-v1:0",
        created_at="2026-12-01T10:00:00+00:00",
    )
    return BatchGroup(**(values | changes))


def _reply(text: str) -> ModelReply:
    return ModelReply(
        text=text, stop_reason="tool_use",
        usage=CallUsage(stage="extract:chunk-01", model_id="m", input_tokens=10, cost_usd=0.5),
    )


def test_a_new_group_reads_back_and_an_existing_id_is_refused(ledger):
    assert ledger.group("abcdwxyz") is None
    ledger.create_group(_group())
    assert ledger.group("abcdwxyz") == _group()
    with pytest.raises(GroupExistsError, match="abcdwxyz"):
        ledger.create_group(_group(partition_keys=["other.mp4"]))
    assert ledger.group("abcdwxyz").partition_keys == _group().partition_keys


def test_saved_state_replaces_the_group_and_done_groups_are_not_open(ledger):
    assert ledger.open_groups() == []
    ledger.create_group(_group("second", created_at="2026-12-01T11:00:00+00:00"))
    ledger.create_group(_group("first"))
    job = BatchJobRecord(
        job_arn="arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/j1", job_name="g-p1",
        pass_number=1, stage="extract", records=120, partitions=3, input_uri="s3://b/in/",
        output_uri="s3://b/out/", status="InProgress", submitted_at="2026-12-01T10:05:00+00:00",
    )
    ledger.save_group(_group("first", state="job", pass_number=1, jobs=[job]))
    assert [group.group_id for group in ledger.open_groups()] == ["first", "second"]
    assert ledger.group("first").jobs == [job]

    ledger.save_group(_group("first", state="done"))
    assert [group.group_id for group in ledger.open_groups()] == ["second"]


def test_a_group_id_must_be_one_safe_key_part(ledger):
    with pytest.raises(ValueError, match="group id"):
        ledger.group("../escape")


def test_pass_results_by_partition_with_their_records_in_the_pass_input(ledger):
    ledger.create_group(_group())
    deferred = PassResult(
        partition_key="2024/aula 01.mp4", pass_number=1, run_id="run-1", outcome="deferred",
        stage="extract", records={"r1": "d" * 64, "r2": "e" * 64},
        stage_labels={"r1": "extract:chunk-01", "r2": "extract:chunk-02"},
    )
    records = [{"recordId": "r1", "modelInput": {"messages": []}}, {"recordId": "r2", "modelInput": {}}]
    written = PassResult(partition_key="Configuração %5Bparte 1%5D.mp4", pass_number=1,
                         run_id="run-1", outcome="written")
    failed = PassResult(partition_key="2024/aula 02.mp4", pass_number=1, run_id="run-2",
                        outcome="failed", reason="no transcript")
    ledger.write_pass_result("abcdwxyz", deferred, records)
    ledger.write_pass_result("abcdwxyz", written, [])
    ledger.write_pass_result("abcdwxyz", failed, [])

    assert ledger.pass_results("abcdwxyz", 1) == {
        "2024/aula 01.mp4": deferred,
        "Configuração %5Bparte 1%5D.mp4": written,
        "2024/aula 02.mp4": failed,
    }
    assert ledger.pass_results("abcdwxyz", 2) == {}

    # The job reads every .jsonl under the pass's input folder: exactly the deferred records.
    input_uri = ledger.pass_input_uri("abcdwxyz", 1)
    assert input_uri.endswith("batch/abcdwxyz/pass-1/input/")
    assert ledger.pass_output_uri("abcdwxyz", 1).endswith("batch/abcdwxyz/pass-1/output/")
    scratch = ledger.scratch
    files = [obj.key for obj in scratch.list_objects("batch/abcdwxyz/pass-1/input/")]
    assert len(files) == 1 and files[0].endswith(".jsonl")
    lines = scratch.read_bytes(files[0]).decode("utf-8").splitlines()
    assert [json.loads(line) for line in lines] == records
    # The records are in scratch only; the results in the durable store only.
    assert not any(obj.key.endswith(".jsonl") for obj in ledger.store.list_objects("batch/abcdwxyz/pass-1/"))


def test_a_relaunched_partition_replaces_its_result_and_records(ledger):
    first = PassResult(partition_key="a.mp4", pass_number=2, run_id="run-1", outcome="deferred",
                       stage="merge", records={"r1": "a" * 64}, stage_labels={"r1": "merge"})
    ledger.write_pass_result("abcdwxyz", first, [{"recordId": "r1"}])
    again = first.model_copy(update={"run_id": "run-9", "records": {"r7": "b" * 64}})
    ledger.write_pass_result("abcdwxyz", again, [{"recordId": "r7"}])
    assert ledger.pass_results("abcdwxyz", 2)["a.mp4"].run_id == "run-9"
    [only] = list(ledger.scratch.list_objects("batch/abcdwxyz/pass-2/input/"))
    assert json.loads(ledger.scratch.read_bytes(only.key)) == {"recordId": "r7"}


def test_a_deferred_result_without_records_is_refused(ledger):
    result = PassResult(partition_key="a.mp4", pass_number=1, run_id="r", outcome="deferred")
    with pytest.raises(ValueError, match="needs its records"):
        ledger.write_pass_result("abcdwxyz", result, [])
    assert ledger.pass_results("abcdwxyz", 1) == {}


def test_answers_of_every_pass_by_digest_a_reply_wins_over_an_error(ledger):
    assert ledger.answers("abcdwxyz").answer("a" * 64) is None
    ledger.put_answers("abcdwxyz", 1, [
        BatchAnswer(digest="a" * 64, record_id="r1", stage="extract:chunk-01", reply=_reply("one")),
        BatchAnswer(digest="b" * 64, record_id="r2", stage="extract:chunk-02", error="cut at max_tokens"),
        BatchAnswer(digest="c" * 64, record_id="r3", stage="extract:chunk-03", reply=_reply("three")),
    ])
    ledger.put_answers("abcdwxyz", 2, [
        BatchAnswer(digest="b" * 64, record_id="r2", stage="extract:chunk-02", reply=_reply("two")),
        BatchAnswer(digest="c" * 64, record_id="r3", stage="extract:chunk-03", error="job failed: x"),
        BatchAnswer(digest="f" * 64, record_id="r9", stage="merge", error="ModelErrorException: boom"),
    ])
    answers = ledger.answers("abcdwxyz")
    assert answers.answer("a" * 64).reply.text == "one"
    assert answers.answer("b" * 64).reply.text == "two"
    assert answers.answer("c" * 64).reply.text == "three"
    assert answers.answer("f" * 64).error == "ModelErrorException: boom"
    assert answers.answer("a" * 64).reply.usage.cost_usd == 0.5
    assert ledger.answers("othergrp").answer("a" * 64) is None


def test_putting_a_pass_answers_again_replaces_them(ledger):
    one = BatchAnswer(digest="a" * 64, record_id="r1", stage="merge", error="x")
    ledger.put_answers("abcdwxyz", 3, [one])
    ledger.put_answers("abcdwxyz", 3, [one.model_copy(update={"error": None, "reply": _reply("ok")})])
    assert ledger.answers("abcdwxyz").answer("a" * 64).reply.text == "ok"


def test_a_missing_bucket_is_an_input_error(aws_env):
    ledger = BatchLedger(S3Storage("no-such-bucket"), S3Storage("no-such-bucket"))
    with pytest.raises(InputError, match="no such bucket"):
        ledger.open_groups()


def test_the_batch_resource_says_in_one_line_why_batch_is_unavailable(tmp_path):
    from techne_assets.defs.batch_resource import BedrockBatchResource
    from techne_assets.settings import Settings

    local = BedrockBatchResource.from_settings(Settings(batch_role_arn="arn:aws:iam::1:role/b"))
    assert "S3 scratch store" in local.unavailable_reason()
    aws = dict(profile="aws", scratch_uri="s3://work/scratch/", store_uri="s3://work/store/")
    assert "TECHNE_BATCH_ROLE_ARN" in BedrockBatchResource.from_settings(Settings(**aws)).unavailable_reason()
    ready = BedrockBatchResource.from_settings(Settings(**aws, batch_role_arn="arn:aws:iam::1:role/b"))
    assert ready.unavailable_reason() is None
    assert "TECHNE_BATCH_MODELS" in ready.unavailable_reason("amazon.nova-pro-v1:0")
    # The default batch price is half the on-demand input and output price.
    on_demand = Settings().price_for(ready.model_id)
    assert ready.batch_price().input == on_demand.input / 2
    assert ready.batch_price().output == on_demand.output / 2
    assert isinstance(local.ledger(), BatchLedger)


def test_the_group_keeps_its_paid_on_demand_replies_apart_from_other_groups(ledger):
    replies = ledger.paid_replies("abcdwxyz")
    assert replies.get("a" * 64) is None
    replies.put("a" * 64, _reply("paid"))
    assert ledger.paid_replies("abcdwxyz").get("a" * 64).usage.cost_usd == 0.5
    assert ledger.paid_replies("othergrp").get("a" * 64) is None
