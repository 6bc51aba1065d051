"""The batch pass client: batch answers, on-demand for what cannot wait, the rest deferred; and
the whole staged writer driven pass by pass through it, with a batch service that answers
through the Converse simulator's canned answers."""

from __future__ import annotations

import json
import time

import pytest

from techne_assets.adapters.batch_ledger import BatchLedger
from techne_assets.adapters.bedrock_batch import converse_record, parse_output_line
from techne_assets.adapters.storage import LocalStorage
from techne_assets.core.pricing import ModelPrice, call_cost_usd
from techne_assets.core.transcript import Segment, Transcript
from techne_assets.core.writing import prompts
from techne_assets.core.writing.base import (
    CallUsage,
    Draft,
    ModelReply,
    RequestDeferred,
    RequestsDeferred,
    ToolSpec,
    WritingContext,
)
from techne_assets.core.writing.batch_client import BatchDeferringClient, BatchRecordFailed
from techne_assets.core.writing.batch_records import BatchAnswer, record_id
from techne_assets.core.writing.calls import STAGE_ORDER, ModelCalls, stage_of
from techne_assets.core.writing.factory import make_writer
from techne_assets.testing.canned_answers import CannedAnswers
from techne_assets.testing.converse_simulator import ConverseSimulator
from techne_assets.testing.native_messages import converse_request_of, native_response_of
from techne_assets.testing.simulated_bedrock import simulated_bedrock_client

MODEL_ID = "us.anthropic.claude-sonnet-4-20250514-v1:0"
ON_DEMAND = ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30)
BATCH = ModelPrice(input=1.5, output=7.5, cache_write=1.5, cache_read=1.5)
TOOL = ToolSpec(name="registrar", description="d", input_schema={"type": "object"})


class MemoryReplies:
    def __init__(self):
        self.replies: dict[str, ModelReply] = {}

    def get(self, digest):
        return self.replies.get(digest)

    def put(self, digest, reply):
        self.replies[digest] = reply


class DictAnswers:
    def __init__(self, answers: list[BatchAnswer] = ()):
        self.by_digest = {answer.digest: answer for answer in answers}

    def answer(self, digest):
        return self.by_digest.get(digest)


class FakeOnDemand:
    """Answers every call (or raises `error`), recording the stages it was asked for."""

    model_id = MODEL_ID
    max_output_tokens = 8000

    def __init__(self, error: Exception | None = None):
        self.stages: list[str] = []
        self.error = error

    def converse(self, *, stage, system, prompt, cached_prefix=None, max_tokens=4096, tool=None):
        self.stages.append(stage)
        if self.error is not None:
            raise self.error
        return ModelReply(tool_input={"ok": stage}, stop_reason="tool_use",
                          usage=CallUsage(stage=stage, model_id=MODEL_ID, input_tokens=100,
                                          output_tokens=10, cost_usd=0.01))


def _request(prompt: str = "pergunta", stage: str = "extract:chunk-01") -> dict:
    return dict(stage=stage, system=prompts.SYSTEM_PROMPT, prompt=prompt, cached_prefix="prefixo",
                max_tokens=1000, tool=TOOL)


def _digest(client: BatchDeferringClient, request: dict) -> str:
    return client.digest(prompt=request["prompt"], cached_prefix=request["cached_prefix"],
                         max_tokens=request["max_tokens"], tool=request["tool"])


def _batch_reply(stage: str) -> ModelReply:
    usage = CallUsage(stage=stage, model_id=MODEL_ID, input_tokens=1000, output_tokens=200,
                      cost_usd=call_cost_usd(BATCH, input_tokens=1000, output_tokens=200))
    return ModelReply(tool_input={"from": "batch"}, stop_reason="tool_use", usage=usage)


def test_an_unanswered_request_is_deferred_under_the_writers_own_digest():
    client = BatchDeferringClient(FakeOnDemand(), DictAnswers())
    calls = ModelCalls(client, "prefixo", use_prompt_cache=True, reply_cache=None,
                       max_output_tokens=8000, max_parallel_calls=1)
    with pytest.raises(RequestDeferred) as deferred:
        calls.converse("extract:chunk-01", "pergunta", TOOL, 1000)
    # ModelCalls names the request by its cache key; the client computed the same one.
    assert deferred.value.__cause__.digest == deferred.value.digest
    assert deferred.value.digest == _digest(client, _request())
    assert deferred.value.request["prompt"] == "pergunta"
    assert client.on_demand.stages == []


def test_an_answered_request_gets_its_batch_reply_at_the_batch_price_and_is_observed_once():
    heard: list[CallUsage] = []
    shared, paid = MemoryReplies(), MemoryReplies()
    probe = BatchDeferringClient(FakeOnDemand(), DictAnswers())
    digest = _digest(probe, _request())
    answers = DictAnswers([BatchAnswer(digest=digest, record_id="r1", stage="extract:chunk-01",
                                       reply=_batch_reply("extract:chunk-01"))])
    on_demand = FakeOnDemand()
    client = BatchDeferringClient(on_demand, answers, reply_cache=shared, paid_replies=paid,
                                  on_call=heard.append)
    reply = client.converse(**_request(stage="extract:chunk-01b"))
    assert reply.tool_input == {"from": "batch"}
    assert reply.usage.stage == "extract:chunk-01b"
    assert reply.usage.cost_usd == pytest.approx(1000 * 1.5e-6 + 200 * 7.5e-6)
    assert on_demand.stages == []
    assert [usage.cost_usd for usage in heard] == [reply.usage.cost_usd]

    # A later pass: the writer stored the reply in the shared cache, which its pass cache hides,
    # so the answer is served again at its cost, but not reported as paid a second time.
    shared.put(digest, reply)
    assert client.writer_reply_cache().get(digest) is None
    later = BatchDeferringClient(on_demand, answers, reply_cache=shared, paid_replies=paid,
                                 on_call=heard.append)
    again = later.converse(**_request())
    assert again.usage.cost_usd == reply.usage.cost_usd and not again.usage.reused
    assert len(heard) == 1


def test_an_errored_record_goes_on_demand_once_and_a_later_pass_does_not_pay_again():
    probe = BatchDeferringClient(FakeOnDemand(), DictAnswers())
    digest = _digest(probe, _request())
    answers = DictAnswers([BatchAnswer(digest=digest, record_id="r1", stage="extract:chunk-01",
                                       error="batch record error 400: bad")])
    paid = MemoryReplies()
    first = FakeOnDemand()
    heard: list[CallUsage] = []
    reply = BatchDeferringClient(first, answers, paid_replies=paid, on_call=heard.append).converse(**_request())
    assert first.stages == ["extract:chunk-01"]
    assert reply.usage.cost_usd == 0.01 and len(heard) == 1

    later = FakeOnDemand()
    client = BatchDeferringClient(later, answers, paid_replies=paid, on_call=heard.append)
    assert client.writer_reply_cache().get(digest) is None
    again = client.converse(**_request())
    assert later.stages == [] and again.usage.cost_usd == 0.01 and len(heard) == 1


def test_a_record_that_fails_in_batch_and_on_demand_fails_with_both_reasons():
    probe = BatchDeferringClient(FakeOnDemand(), DictAnswers())
    answers = DictAnswers([BatchAnswer(digest=_digest(probe, _request()), record_id="r1",
                                       stage="extract:chunk-01", error="extract:chunk-01: cut at max_tokens")])
    client = BatchDeferringClient(FakeOnDemand(RuntimeError("ValidationException:\n too long")), answers)
    with pytest.raises(BatchRecordFailed) as failed:
        client.converse(**_request())
    assert str(failed.value) == (
        "extract:chunk-01: failed in batch (extract:chunk-01: cut at max_tokens) and on demand "
        "(ValidationException: too long)"
    )


def test_a_quota_error_on_demand_is_not_the_records_fault():
    class CircuitOpen(Exception):
        pass

    probe = BatchDeferringClient(FakeOnDemand(), DictAnswers())
    answers = DictAnswers([BatchAnswer(digest=_digest(probe, _request()), record_id="r1",
                                       stage="extract:chunk-01", error="x")])
    client = BatchDeferringClient(FakeOnDemand(CircuitOpen("open")), answers, passthrough=(CircuitOpen,))
    with pytest.raises(CircuitOpen):
        client.converse(**_request())


def test_repairs_and_on_demand_only_passes_go_on_demand():
    on_demand = FakeOnDemand()
    paid = MemoryReplies()
    client = BatchDeferringClient(on_demand, DictAnswers(), paid_replies=paid)
    client.converse(**_request(stage="extract:chunk-01:repair"))
    assert on_demand.stages == ["extract:chunk-01:repair"]
    with pytest.raises(RequestDeferred):
        client.converse(**_request(prompt="outra", stage="merge"))

    only = BatchDeferringClient(on_demand, DictAnswers(), on_demand_only=True, paid_replies=paid)
    only.converse(**_request(prompt="outra", stage="merge"))
    assert on_demand.stages == ["extract:chunk-01:repair", "merge"]
    assert len(paid.replies) == 2


def test_the_pass_cache_delegates_what_the_group_did_not_pay_for():
    shared = MemoryReplies()
    client = BatchDeferringClient(FakeOnDemand(), DictAnswers(), reply_cache=shared)
    old = _batch_reply("merge")
    shared.put("e" * 64, old)
    cache = client.writer_reply_cache()
    assert cache.get("e" * 64) == old
    cache.put("f" * 64, old)
    assert shared.get("f" * 64) == old


# ---- the whole writer, pass by pass ---------------------------------------------------------


def short_call(minutes: int = 12) -> Transcript:
    lines = [
        "hoje vamos configurar o balanceador do serviço de pagamentos",
        "o erro que aparece no log é HTTP 503 vindo do balanceador",
        "depois roda kubectl get pods traço n pagamentos",
        "a causa raiz foi o limite de memória configurado no deployment",
        "alguém tem dúvida sobre o TTL do DNS?",
        "o runbook está em https://wiki.techne.com.br/runbooks/pagamentos",
    ]
    segments = []
    for index in range(minutes * 6):
        start = index * 10.0
        segments.append(Segment(start=start, end=start + 9.0, speaker=["Ana", "Bruno"][index % 2],
                                text=f"Parte {index // 20 + 1}: {lines[index % len(lines)]}."))
    return Transcript(language="pt-BR", duration=minutes * 60.0, segments=segments)


class SimulatedBatchJob:
    """Answers records as a batch job does: JSONL records in, output lines out (the Converse
    simulator answers each native `modelInput`), parsed at the batch price."""

    def __init__(self):
        self.simulator = ConverseSimulator(responder=CannedAnswers(), requests_per_minute=10**6,
                                           tokens_per_minute=10**9, time_scale=0.0)
        self.records_received = 0

    def run(self, deferred: list[RequestDeferred], partition_key: str) -> list[BatchAnswer]:
        records = {record_id(partition_key, item.stage, item.digest): item for item in deferred}
        answers = []
        for rid, item in records.items():
            record = json.loads(json.dumps(converse_record(rid, item.request)))
            assert "cachePoint" not in json.dumps(record)
            self.records_received += 1
            request = converse_request_of(record["modelInput"])
            _, _, body = self.simulator.handle_converse(MODEL_ID, request, time.monotonic())
            line = {**record, "modelOutput": native_response_of(json.loads(body), MODEL_ID)}
            rid, reply, error = parse_output_line(line, model_id=MODEL_ID, price=BATCH, stage=item.stage)
            answers.append(BatchAnswer(digest=item.digest, record_id=rid, stage=item.stage,
                                       reply=reply, error=error))
        return answers


def _writer(client, reply_cache):
    return make_writer("bedrock", client=client, max_output_tokens=16_000, chunk_max_tokens=600,
                       reply_cache=reply_cache)


def test_the_staged_writer_runs_stage_by_stage_through_batch_and_costs_the_batch_usages(tmp_path):
    transcript = short_call()
    context = WritingContext(source_name="aula.mp4")
    ledger = BatchLedger(LocalStorage(tmp_path / "store"), LocalStorage(tmp_path / "scratch"))
    shared = MemoryReplies()
    job = SimulatedBatchJob()
    with ConverseSimulator(responder=CannedAnswers(), time_scale=0.001) as on_demand_service:
        on_demand = simulated_bedrock_client(on_demand_service, MODEL_ID, ON_DEMAND, max_output_tokens=16_000)
        heard: list[CallUsage] = []
        deferred_by_pass: list[list[str]] = []
        deferred_digests: list[str] = []
        result: Draft | None = None
        for pass_number in range(1, 12):
            client = BatchDeferringClient(
                on_demand, ledger.answers("grp"), paid_replies=ledger.paid_replies("grp"),
                reply_cache=shared, on_call=heard.append,
            )
            try:
                result = _writer(client, client.writer_reply_cache()).write(transcript, context)
                break
            except RequestsDeferred as requests:
                deferred_by_pass.append([item.stage for item in requests.deferred])
                deferred_digests += [item.digest for item in requests.deferred]
                ledger.put_answers("grp", pass_number, job.run(requests.deferred, "aula.mp4"))
        assert result is not None, f"not written after {len(deferred_by_pass)} passes"
        # The same writer on demand, for comparison.
        on_demand_draft = _writer(on_demand, None).write(transcript, context)
        on_demand_calls = len(on_demand_service.calls)

    # Pass 1 defers exactly the extraction requests (one per chunk), then one stage per pass.
    families = [sorted({stage_of_label(stage) for stage in stages}) for stages in deferred_by_pass]
    assert families[0] == ["extract"] and len(deferred_by_pass[0]) >= 2
    assert families[1] == ["merge"]
    assert all(len(family) == 1 for family in families)
    ranks = [STAGE_ORDER.index(family[0]) for family in families]
    assert ranks == sorted(ranks) and families[-1] == ["review"]
    # Nothing answered is ever sent again, and nothing went on demand.
    assert len(deferred_digests) == len(set(deferred_digests)) == job.records_received
    assert on_demand_calls == len(on_demand_draft.calls)

    # The same requests, the same answers: the same document as on demand.
    assert result.document == on_demand_draft.document
    # Every call of the final draft is a batch answer, paid at the batch price; the draft's cost
    # is their sum, and each was reported once across the passes.
    assert not any(call.reused for call in result.calls)
    assert len(result.calls) == job.records_received
    for call in result.calls:
        assert call.cost_usd == pytest.approx(
            call_cost_usd(BATCH, input_tokens=call.input_tokens, output_tokens=call.output_tokens)
        )
        assert call.cache_read_input_tokens == call.cache_write_input_tokens == 0
    answered = [ledger.answers("grp").answer(digest).reply.usage.cost_usd for digest in deferred_digests]
    assert result.cost_usd == pytest.approx(sum(answered), abs=1e-6)  # Draft rounds to 6 places
    assert sum(usage.cost_usd for usage in heard) == pytest.approx(result.cost_usd, abs=1e-6)
    assert result.cost_usd < on_demand_draft.cost_usd


def stage_of_label(label: str) -> str:
    return stage_of(CallUsage(stage=label, model_id=MODEL_ID))
