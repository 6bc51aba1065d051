"""The `draft` asset in ranged runs: batch passes over three videos, answered between passes by a
batch job stand-in (records read from the pass's JSONL input, answered through the Converse
simulator's canned answers, parsed by the batch adapter), and an ordinary ranged run."""

from __future__ import annotations

import json
import time

import dagster as dg
import pytest

from techne_assets.adapters.batch_ledger import BatchGroup
from techne_assets.adapters.bedrock_batch import answers_from_output
from techne_assets.core.partition_keys import storage_prefix
from techne_assets.core.pricing import ModelPrice
from techne_assets.core.transcript import Segment, Transcript
from techne_assets.core.video import MediaInfo, VideoInfo
from techne_assets.core.writing.base import Draft
from techne_assets.defs.assets import draft, transcript, video
from techne_assets.defs.batch_resource import BedrockBatchResource
from techne_assets.defs.bedrock_resource import BedrockResource, ModelPriceConfig
from techne_assets.defs.draft_passes import BATCH_PASS_OBSERVATION
from techne_assets.defs.io_manager import PydanticJsonIOManager
from techne_assets.defs.resources import StorageResource, TranscriberResource, WriterResource
from techne_assets.defs.run_report import MODEL_CALL_OBSERVATION
from techne_assets.defs.run_tags import BATCH_FINAL_TAG, BATCH_GROUP_TAG, BATCH_PASS_TAG
from techne_assets.testing.canned_answers import CannedAnswers
from techne_assets.testing.converse_simulator import CannedReply, ConverseCall, ConverseSimulator
from techne_assets.testing.native_messages import converse_request_of, native_response_of

MODEL_ID = "us.anthropic.claude-sonnet-4-20250514-v1:0"
ON_DEMAND = ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30)
BATCH = ModelPrice(input=1.5, output=7.5, cache_write=1.5, cache_read=1.5)
KEYS = ["2024/aula A.mp4", "2024/aula B.mp4", "2024/aula C.mp4"]
RANGE_START, RANGE_END = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end"
GROUP = "grpdraft"


def _transcript(name: str, minutes: int = 8) -> Transcript:
    lines = [
        f"hoje na aula {name} vamos configurar o balanceador do serviço de pagamentos",
        "o erro que aparece no log é HTTP 503 vindo do balanceador",
        "depois roda kubectl get pods traço n pagamentos",
        "a causa raiz foi o limite de memória configurado no deployment",
        "alguém tem dúvida sobre o TTL do DNS?",
    ]
    return Transcript(language="pt-BR", duration=minutes * 60.0, segments=[
        Segment(start=i * 10.0, end=i * 10.0 + 9.0, speaker=["Ana", "Bruno"][i % 2],
                text=f"{lines[i % len(lines)]} (parte {i // 12 + 1}).")
        for i in range(minutes * 6)
    ])


class OnDemandAnswers(CannedAnswers):
    """Canned answers, except for `broken` calls (by a word of their text): invalid ones."""

    def __init__(self):
        self.broken: str | None = None
        self.texts: list[str] = []

    def __call__(self, call: ConverseCall) -> CannedReply:
        self.texts.append(json.dumps(call.body, ensure_ascii=False))
        if self.broken and self.broken in self.texts[-1]:
            return CannedReply(tool_input={"topics": "nada"})
        return super().__call__(call)


class BatchJobStandIn:
    """Reads a pass's input JSONL, answers it like a job (errors for `error_words`)."""

    def __init__(self):
        self.simulator = ConverseSimulator(responder=CannedAnswers(), requests_per_minute=10**6,
                                           tokens_per_minute=10**9, time_scale=0.0)
        self.received: list[str] = []

    def run(self, ledger, pass_number: int, error_words: tuple[str, ...] = ()) -> int:
        results = ledger.pass_results(GROUP, pass_number)
        digests = {rid: digest for result in results.values() for rid, digest in result.records.items()}
        labels = {rid: label for result in results.values() for rid, label in result.stage_labels.items()}
        lines = []
        for stored in ledger.scratch.list_objects(f"batch/{GROUP}/pass-{pass_number}/input/"):
            for raw in ledger.scratch.read_bytes(stored.key).decode("utf-8").splitlines():
                record = json.loads(raw)
                self.received.append(digests[record["recordId"]])
                if any(word in raw for word in error_words):
                    lines.append({**record, "error": {"errorCode": 400, "errorMessage": "bad record"}})
                    continue
                request = converse_request_of(record["modelInput"])
                _, _, body = self.simulator.handle_converse(MODEL_ID, request, time.monotonic())
                lines.append({**record, "modelOutput": native_response_of(json.loads(body), MODEL_ID)})
        answers = answers_from_output(lines, digests=digests, stage_labels=labels, model_id=MODEL_ID, price=BATCH)
        ledger.put_answers(GROUP, pass_number, answers)
        return len(lines)


@pytest.fixture
def world(tmp_path, monkeypatch):
    on_demand_answers = OnDemandAnswers()
    with ConverseSimulator(responder=on_demand_answers, time_scale=0.001, requests_per_minute=10**4,
                           tokens_per_minute=10**9) as service:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", service.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        store, scratch = str(tmp_path / "store"), str(tmp_path / "scratch")
        batch = BedrockBatchResource(store_uri=store, scratch_uri=scratch,
                                     price=ModelPriceConfig(**BATCH.model_dump()))
        resources = {
            "io_manager": PydanticJsonIOManager(store_uri=store),
            "input_storage": StorageResource(uri=str(tmp_path / "inbox")),
            "transcriber": TranscriberResource(kind="captions", input_uri=str(tmp_path / "inbox"),
                                               store_uri=store, scratch_uri=scratch),
            "writer": WriterResource(kind="bedrock", store_uri=store, chunk_max_tokens=600),
            "bedrock": BedrockResource(model_id=MODEL_ID, price=ModelPriceConfig(**ON_DEMAND.model_dump()),
                                       requests_per_minute=10**4, tokens_per_minute=10**9,
                                       max_output_tokens=16_000, state_dir=str(tmp_path / "state"),
                                       region="us-east-1"),
            "bedrock_batch": batch,
        }
        io = PydanticJsonIOManager(store_uri=store)._storage()
        for index, key in enumerate(KEYS):
            name = key.split()[-1].removesuffix(".mp4")
            info = VideoInfo(partition_key=key, key=key, uri=f"/in/{key}", size_bytes=1, etag="e",
                             content_id="c", media=MediaInfo(duration_seconds=480.0))
            io.write_bytes(f"assets/video/{storage_prefix(key)}.json", info.model_dump_json().encode())
            io.write_bytes(f"assets/transcript/{storage_prefix(key)}.json",
                           _transcript(name, minutes=6 + 2 * index).model_dump_json().encode())
        with dg.DagsterInstance.ephemeral() as instance:
            instance.add_dynamic_partitions("videos", KEYS)
            yield instance, resources, batch.ledger(), service, on_demand_answers


def _run(instance, resources, tags):
    return dg.materialize([video, transcript, draft], selection=[draft], instance=instance,
                          resources=resources, tags=tags, raise_on_error=False)


def _events(result, description):
    return [event.asset_observation_data.asset_observation for event in result.all_events
            if event.event_type == dg.DagsterEventType.ASSET_OBSERVATION
            and event.asset_observation_data.asset_observation.description == description]


def _materialized(result) -> list[str]:
    return sorted(event.partition for event in result.all_events
                  if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION)


def test_three_videos_are_written_pass_by_pass_in_one_ranged_run_each(world):
    instance, resources, ledger, service, on_demand_answers = world
    ledger.create_group(BatchGroup(group_id=GROUP, partition_keys=KEYS, model_id=MODEL_ID,
                                   created_at="2026-12-01T00:00:00+00:00"))
    # Video C's extraction records error in the batch job, and its on-demand retry is invalid
    # too: it fails alone, with its reason; A and B are written.
    on_demand_answers.broken = "aula C"
    job = BatchJobStandIn()
    observed_cost: dict[str, float] = {key: 0.0 for key in KEYS}
    stages_by_pass = []
    for pass_number in range(1, 10):
        tags = {BATCH_GROUP_TAG: GROUP, BATCH_PASS_TAG: str(pass_number),
                RANGE_START: KEYS[0], RANGE_END: KEYS[-1]}
        result = _run(instance, resources, tags)
        assert result.success
        for call in _events(result, MODEL_CALL_OBSERVATION):
            observed_cost[call.partition] += call.metadata["cost_usd"].value
        passes = _events(result, BATCH_PASS_OBSERVATION)
        assert sorted(p.partition for p in passes) == KEYS
        results = ledger.pass_results(GROUP, pass_number)
        for seen in passes:
            facts = {name: value.value for name, value in seen.metadata.items()}
            assert facts["pass"] == pass_number and facts["batch_group"] == GROUP
            assert facts["outcome"] == results[seen.partition].outcome
            assert facts["records"] == len(results[seen.partition].records)
            assert facts["partitions_deferred"] == sum(r.outcome == "deferred" for r in results.values())
        assert sorted(results) == KEYS and {r.run_id for r in results.values()} == {result.run_id}
        deferred = {key: r for key, r in results.items() if r.outcome == "deferred"}
        if not deferred:
            break
        assert _materialized(result) == []  # a range with a deferred video yields no output
        stages_by_pass.append(sorted({r.stage for r in deferred.values()}))
        job.run(ledger, pass_number, error_words=("aula C",) if pass_number == 1 else ())
    assert stages_by_pass[0] == ["extract"] and stages_by_pass[1] == ["merge"]
    assert stages_by_pass[-1] == ["review"]
    outcomes = {key: r.outcome for key, r in results.items()}
    assert outcomes == {KEYS[0]: "written", KEYS[1]: "written", KEYS[2]: "failed"}
    assert "aula C" not in results[KEYS[2]].reason and "extract" in results[KEYS[2]].reason
    assert _materialized(result) == []  # C failed: the range still yields no output
    # Nothing answered is sent to batch again; C's errored records went on demand once each
    # (plus one repair each), nothing of A or B did.
    assert len(job.received) == len(set(job.received))
    on_demand_before = len(service.calls)
    assert on_demand_before == len(on_demand_answers.texts) > 0
    assert all("aula C" in text for text in on_demand_answers.texts)

    # The sensor then writes the good videos alone: answered from the caches, materialized.
    for key in KEYS[:2]:
        tags = {BATCH_GROUP_TAG: GROUP, BATCH_PASS_TAG: str(pass_number + 1), BATCH_FINAL_TAG: "1",
                RANGE_START: key, RANGE_END: key}
        single = _run(instance, resources, tags)
        assert single.success and _materialized(single) == [key]
        assert _events(single, MODEL_CALL_OBSERVATION) == []  # reported when first paid
        written: Draft = PydanticJsonIOManager(store_uri=resources["io_manager"].store_uri)._storage() \
            .read_bytes(f"assets/draft/{storage_prefix(key)}.json")
        written = Draft.model_validate_json(written)
        # Every call was a batch answer at the batch price; the draft's cost is what was observed.
        assert written.calls and not any(call.reused for call in written.calls)
        assert written.cost_usd == pytest.approx(observed_cost[key], abs=1e-6)
        assert written.outline and written.sections
    assert len(service.calls) == on_demand_before


def test_a_pass_where_every_video_is_written_stores_one_output_for_the_range(world):
    instance, resources, ledger, service, _ = world
    ledger.create_group(BatchGroup(group_id=GROUP, partition_keys=KEYS, model_id=MODEL_ID,
                                   created_at="2026-12-01T00:00:00+00:00"))
    job = BatchJobStandIn()
    for pass_number in range(1, 10):
        tags = {BATCH_GROUP_TAG: GROUP, BATCH_PASS_TAG: str(pass_number),
                RANGE_START: KEYS[0], RANGE_END: KEYS[-1]}
        result = _run(instance, resources, tags)
        if all(r.outcome == "written" for r in ledger.pass_results(GROUP, pass_number).values()):
            break
        job.run(ledger, pass_number)
    assert result.success and _materialized(result) == KEYS
    assert len(service.calls) == 0  # nothing on demand
    records = instance.fetch_materializations(dg.AssetKey("draft"), limit=10).records
    assert {record.partition_key for record in records} == set(KEYS)
    costs = {r.partition_key: r.asset_materialization.metadata["cost_usd"].value for r in records}
    assert all(cost > 0 for cost in costs.values()) and len(set(costs.values())) > 1  # per video


def test_a_pass_below_the_job_minimum_sends_its_requests_on_demand(world):
    instance, resources, ledger, service, _ = world
    ledger.create_group(BatchGroup(group_id=GROUP, partition_keys=KEYS, model_id=MODEL_ID,
                                   created_at="2026-12-01T00:00:00+00:00",
                                   on_demand_reason="12 records < minimum 100"))
    tags = {BATCH_GROUP_TAG: GROUP, BATCH_PASS_TAG: "1", RANGE_START: KEYS[0], RANGE_END: KEYS[-1]}
    result = _run(instance, resources, tags)
    assert result.success and _materialized(result) == KEYS
    assert len(service.calls) > 0
    assert {r.outcome for r in ledger.pass_results(GROUP, 1).values()} == {"written"}


def test_an_ordinary_ranged_run_writes_each_video_and_names_the_failed_ones(world):
    instance, resources, ledger, service, on_demand_answers = world
    tags = {RANGE_START: KEYS[0], RANGE_END: KEYS[-1]}
    result = _run(instance, resources, tags)
    assert result.success and _materialized(result) == KEYS
    calls_after_first = len(service.calls)

    on_demand_answers.broken = "aula B"
    instance.wipe()
    instance.add_dynamic_partitions("videos", KEYS)
    failing = dict(resources, writer=WriterResource(kind="bedrock", store_uri=resources["writer"].store_uri,
                                                    chunk_max_tokens=600, reuse_replies=False))
    result = _run(instance, failing, tags)
    assert not result.success and _materialized(result) == []
    [failure] = [event for event in result.all_events if event.event_type == dg.DagsterEventType.STEP_FAILURE]
    description = failure.step_failure_data.user_failure_data.description
    assert description.startswith("draft failed for 1 of 3 videos: 2024/aula B.mp4: ")
    assert "\n" not in description
    assert len(service.calls) > calls_after_first
