"""The staged model writer: extraction per chunk, merge, write and review, through the real
Converse client over botocore's Stubber (every request checked against the service model),
with response bodies shaped like the recorded ones in tests/data/bedrock (SOURCES.md)."""

from __future__ import annotations

import copy
import json
import random
import threading
import time
from pathlib import Path

import boto3
import botocore.parsers
import pytest
from botocore.awsrequest import HeadersDict
from botocore.stub import Stubber
from pydantic import ValidationError

from techne_assets.adapters.bedrock import BedrockConverseClient
from techne_assets.adapters.bedrock_limiter import CircuitBreaker, QuotaLimiter
from techne_assets.adapters.bedrock_state import InProcessStateStore
from techne_assets.core.document import SECTION_HEADINGS, render_markdown
from techne_assets.core.pricing import ModelPrice, call_cost_usd
from techne_assets.core.transcript import Segment, Transcript
from techne_assets.core.writing.base import CallUsage, ModelReply, ToolSpec, WritingContext
from techne_assets.core.writing.extraction import ChunkExtraction, Outline
from techne_assets.core.writing.prompts import SYSTEM_PROMPT, transcript_block
from techne_assets.core.writing.staged import (
    StagedModelWriter,
    WritingStageError,
    usage_by_stage,
)
from techne_assets.testing.clock import FakeClock

BEDROCK_DATA = Path(__file__).parent / "data" / "bedrock"
MODEL_ID = "us.anthropic.claude-sonnet-4-20250514-v1:0"
SONNET = ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30)
CONTEXT = WritingContext(
    source_name="treinamento-pagamentos.mp4", call_date="2025-05-20", media_duration=2700
)

LINES = [
    ("Ana", "Bom dia, hoje vamos ver o deploy do serviço de pagamentos no cluster."),
    ("Bruno", "O pod entrou em CrashLoopBackOff depois do deploy de ontem."),
    ("Ana", "Primeiro roda o comando kubectl get pods -n pagamentos pra ver o estado."),
    ("Bruno", "A causa raiz foi o limite em resources.limits.memory que estava baixo."),
    ("Ana", "Agora abre o arquivo /etc/nginx/nginx.conf e confere o upstream."),
    ("Carla", "O runbook está em https://wiki.techne.com.br/runbooks/pagamentos, certo?"),
    ("Ana", "Isso. A solução foi kubectl rollout undo deployment/api-pagamentos."),
    ("Bruno", "Eu fico com a tarefa de atualizar o runbook até sexta."),
]
# 100 tokens per chunk cut these eight segments into three chunks: 00:00-00:15, 00:15-00:25, 00:25-.
CHUNK_MAX_TOKENS = 100
CHUNK_RANGES = [("00:00:00", "00:10:40"), ("00:15:00", "00:20:40"), ("00:25:00", "00:35:40")]
INVENTED_COMMAND = "rm -rf /var/lib/pagamentos"


def call_transcript() -> Transcript:
    segments = [
        Segment(start=i * 300.0, end=i * 300.0 + 40, speaker=speaker, text=text)
        for i, (speaker, text) in enumerate(LINES)
    ]
    return Transcript(language="pt-BR", duration=2700, segments=segments)


# ---- structured answers ----------------------------------------------------------------------


def extraction(start: str, end: str, title: str) -> dict:
    return {
        "topics": [
            {"title": title, "start": start, "end": end, "summary": f"Trecho sobre {title}."}
        ],
        "commands": [
            {"command": "kubectl get pods -n pagamentos", "purpose": "ver o estado", "at": start}
        ],
    }


OUTLINE = {
    "main_theme": "Deploy e troubleshooting do serviço de pagamentos.",
    "topics": [
        {"title": "Rollback", "start": "00:30:00", "end": "00:35:40"},
        {"title": "Deploy", "start": "00:00:00", "end": "00:05:40"},
    ],
    "procedures": [{"title": "Verificar os pods", "start": "00:10:00", "end": "00:10:40"}],
    "problems": [{"title": "CrashLoopBackOff", "start": "00:05:00", "end": "00:15:40"}],
}


def written_document(extra_step: str | None = None) -> dict:
    steps = [{"text": "Rode `kubectl get pods -n pagamentos` para ver o estado.", "at": "00:10:00"}]
    if extra_step:
        steps.append({"text": extra_step, "at": "00:10:20"})
    return {
        "executive_summary": [
            "A chamada tratou do deploy do serviço de pagamentos.",
            "O pod entrou em CrashLoopBackOff e a solução foi um rollback.",
        ],
        "topics": [
            {
                "title": "Deploy",
                "start": "00:00:00",
                "end": "00:05:40",
                "description": "O deploy de ontem.",
            },
        ],
        "procedures": [
            {
                "title": "Verificar os pods",
                "start": "00:10:00",
                "end": "00:10:40",
                "objective": "Ver o estado dos pods.",
                "steps": steps,
            },
        ],
        "troubleshooting": [
            {
                "title": "CrashLoopBackOff",
                "start": "00:05:00",
                "end": "00:35:40",
                "symptoms": ["O pod reinicia."],
                "root_cause": "Limite baixo em `resources.limits.memory`.",
                "solution": ["`kubectl rollout undo deployment/api-pagamentos`"],
            },
        ],
        "questions": [],
        "action_items": [
            {"text": "Atualizar o runbook até sexta.", "owner": "Bruno", "at": "00:35:00"}
        ],
        "references": [
            {
                "text": "Runbook de pagamentos",
                "url": "https://wiki.techne.com.br/runbooks/pagamentos",
            }
        ],
        "glossary": [{"term": "CrashLoopBackOff", "definition": "O pod reinicia em ciclo."}],
    }


# ---- Converse bodies shaped like the recorded ones -------------------------------------------


def runtime_client():
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def parsed(body: dict) -> dict:
    """The body as botocore parses a real HTTP response (unmodelled keys dropped)."""
    output_shape = runtime_client().meta.service_model.operation_model("Converse").output_shape
    result = botocore.parsers.create_parser("rest-json").parse(
        {"status_code": 200, "headers": HeadersDict({}), "body": json.dumps(body).encode()},
        output_shape,
    )
    result.pop("ResponseMetadata")
    return result


def recorded(name: str) -> dict:
    return json.loads((BEDROCK_DATA / name).read_text())


def tool_use_body(
    tool_name: str, tool_input, *, output_tokens: int, cache_read: int, cache_write: int
) -> dict:
    """A forced tool call (like pydanticai_structured_output_tool_use_0) with cache usage
    fields (like pydanticai_cache_write_then_read_1)."""
    body = recorded("pydanticai_structured_output_tool_use_0.json")
    tool_use = body["output"]["message"]["content"][0]["toolUse"]
    tool_use["name"], tool_use["input"] = tool_name, tool_input
    usage = recorded("pydanticai_cache_write_then_read_1.json")["usage"]
    usage.update(
        inputTokens=350,
        outputTokens=output_tokens,
        cacheReadInputTokens=cache_read,
        cacheWriteInputTokens=cache_write,
        totalTokens=350 + output_tokens + cache_read + cache_write,
    )
    body["usage"] = usage
    return parsed(body)


def max_tokens_body(output_tokens: int) -> dict:
    body = recorded("pydanticai_stopReason_max_tokens_0.json")
    body["usage"].update(outputTokens=output_tokens, inputTokens=350, cacheReadInputTokens=1322)
    return parsed(body)


class StubbedBedrock:
    """The real client over a stubbed runtime; every request the writer sends is captured."""

    def __init__(self) -> None:
        clock = FakeClock()
        store = InProcessStateStore()
        self.runtime = runtime_client()
        self.stubber = Stubber(self.runtime)
        self.requests: list[dict] = []
        self.runtime.meta.events.register(
            "provide-client-params.bedrock-runtime.Converse",
            lambda params, **_: self.requests.append(copy.deepcopy(params)),
        )
        self.client = BedrockConverseClient(
            MODEL_ID,
            price_table={MODEL_ID: SONNET},
            limiter=QuotaLimiter(
                store,
                MODEL_ID,
                requests_per_minute=100,
                tokens_per_minute=2_000_000,
                output_burndown=5,
                clock=clock,
                sleep=clock.sleep,
            ),
            breaker=CircuitBreaker(
                store, MODEL_ID, failure_threshold=5, timeout_seconds=300, clock=clock
            ),
            runtime_client=self.runtime,
            max_output_tokens=32_000,
            sleep=clock.sleep,
        )
        self.replies = 0

    def reply(self, tool_name: str, tool_input, output_tokens: int = 400) -> None:
        # The first call writes the transcript to the cache, every later one reads it.
        cache_write, cache_read = (1200, 0) if self.replies == 0 else (0, 1200)
        self.stubber.add_response(
            "converse",
            tool_use_body(
                tool_name,
                tool_input,
                output_tokens=output_tokens,
                cache_read=cache_read,
                cache_write=cache_write,
            ),
        )
        self.replies += 1

    def truncate(self, output_tokens: int = 4096) -> None:
        self.stubber.add_response("converse", max_tokens_body(output_tokens))
        self.replies += 1

    def extractions(self) -> None:
        for number, (start, end) in enumerate(CHUNK_RANGES, 1):
            self.reply("registrar_extracao", extraction(start, end, f"Assunto {number}"))

    def prompt(self, index: int) -> str:
        return self.requests[index]["messages"][0]["content"][-1]["text"]


@pytest.fixture
def bedrock():
    stubbed = StubbedBedrock()
    with stubbed.stubber:
        yield stubbed
    stubbed.stubber.assert_no_pending_responses()


def staged_writer(client, **options) -> StagedModelWriter:
    options.setdefault("max_parallel_chunks", 1)  # the Stubber answers in order
    return StagedModelWriter(client, chunk_max_tokens=CHUNK_MAX_TOKENS, **options)


# ---- the whole run ---------------------------------------------------------------------------


def test_a_staged_run_goes_through_every_stage_with_the_transcript_cached(bedrock):
    transcript = call_transcript()
    bedrock.extractions()
    bedrock.reply("registrar_roteiro", OUTLINE)
    bedrock.reply("registrar_documento", written_document(), output_tokens=2500)
    bedrock.reply("registrar_revisao", written_document(), output_tokens=2400)

    draft = staged_writer(bedrock.client).write(transcript, CONTEXT)

    assert [c.stage for c in draft.calls] == [
        "extract:chunk-01",
        "extract:chunk-02",
        "extract:chunk-03",
        "merge",
        "write",
        "review",
    ]
    # Each call forces its own tool, and the transcript block precedes a cache point in every one.
    tools = [r["toolConfig"]["toolChoice"]["tool"]["name"] for r in bedrock.requests]
    assert tools == ["registrar_extracao"] * 3 + [
        "registrar_roteiro",
        "registrar_documento",
        "registrar_revisao",
    ]
    block = transcript_block(transcript)
    for request in bedrock.requests:
        content = request["messages"][0]["content"]
        assert content[:2] == [{"text": block}, {"cachePoint": {"type": "default"}}]
        assert request["system"] == [{"text": SYSTEM_PROMPT}]
    # Each extraction is told its own time range.
    for index, (start, end) in enumerate(CHUNK_RANGES):
        assert f'<trecho inicio="{start}" fim="{end}"/>' in bedrock.prompt(index)

    assert draft.writer == f"bedrock:{MODEL_ID}"
    assert draft.document.header.writer == MODEL_ID
    assert draft.document.header.written_offline is False
    assert draft.document.header.participants == ["Ana", "Bruno", "Carla"]
    assert [note["chunk"] for note in draft.chunk_notes] == [1, 2, 3]
    assert [note["topics"][0]["title"] for note in draft.chunk_notes] == [
        "Assunto 1",
        "Assunto 2",
        "Assunto 3",
    ]
    # The outline comes back in call order even though the model listed "Rollback" first.
    assert [t["title"] for t in draft.outline["topics"]] == ["Deploy", "Rollback"]
    assert list(draft.sections) == list(SECTION_HEADINGS[:-1])
    assert "`kubectl get pods -n pagamentos`" in draft.sections["## 3. Procedimentos e Instruções"]
    assert draft.document.procedures[0].steps[0].at == 600.0
    assert draft.removed_ungrounded == []


def test_usage_and_cost_are_kept_per_call_per_stage_and_per_video(bedrock):
    bedrock.extractions()
    bedrock.reply("registrar_roteiro", OUTLINE, output_tokens=300)
    bedrock.reply("registrar_documento", written_document(), output_tokens=2500)
    bedrock.reply("registrar_revisao", written_document(), output_tokens=2400)

    draft = staged_writer(bedrock.client).write(call_transcript(), CONTEXT)

    first, *later = draft.calls
    assert (first.cache_write_input_tokens, first.cache_read_input_tokens) == (1200, 0)
    assert all((c.cache_write_input_tokens, c.cache_read_input_tokens) == (0, 1200) for c in later)
    stages = usage_by_stage(draft.calls)
    assert list(stages) == ["extract", "merge", "write", "review"]
    assert stages["extract"].calls == 3
    assert stages["extract"].output_tokens == 3 * 400
    assert stages["write"].output_tokens == 2500
    expected_write = call_cost_usd(
        SONNET, input_tokens=350, output_tokens=2500, cache_read_input_tokens=1200
    )
    assert stages["write"].cost_usd == pytest.approx(expected_write)
    assert draft.cost_usd == pytest.approx(sum(s.cost_usd for s in stages.values()))
    assert draft.output_tokens == 3 * 400 + 300 + 2500 + 2400


def test_an_invented_command_in_the_written_document_is_reviewed_then_removed_and_listed(bedrock):
    transcript = call_transcript()
    planted = f"Limpe o diretório com `{INVENTED_COMMAND}`."
    bedrock.extractions()
    bedrock.reply("registrar_roteiro", OUTLINE)
    bedrock.reply("registrar_documento", written_document(extra_step=planted))
    # A review that misses it: the deterministic guard still has to catch it.
    bedrock.reply("registrar_revisao", written_document(extra_step=planted))

    draft = staged_writer(bedrock.client).write(transcript, CONTEXT)

    review_prompt = bedrock.prompt(5)
    findings = review_prompt.split("<trechos_sem_suporte>")[1].split("</trechos_sem_suporte>")[0]
    assert INVENTED_COMMAND in findings
    assert "kubectl get pods" not in findings
    assert draft.removed_ungrounded == [INVENTED_COMMAND]
    markdown = render_markdown(draft.document, transcript)
    assert INVENTED_COMMAND not in markdown
    assert INVENTED_COMMAND not in "".join(draft.sections.values())
    # Only the step carrying it went; the grounded step stayed.
    assert [s.text for s in draft.document.procedures[0].steps] == [
        "Rode `kubectl get pods -n pagamentos` para ver o estado."
    ]


# ---- invalid structured output ---------------------------------------------------------------


def test_an_invalid_answer_gets_one_repair_call_with_the_errors_and_the_invalid_json(bedrock):
    invalid = {**OUTLINE, "topics": [{"title": "Deploy", "start": "meio-dia", "end": "00:05:40"}]}
    del invalid["main_theme"]
    bedrock.extractions()
    bedrock.reply("registrar_roteiro", invalid)
    bedrock.reply("registrar_roteiro", OUTLINE)
    bedrock.reply("registrar_documento", written_document())
    bedrock.reply("registrar_revisao", written_document())

    draft = staged_writer(bedrock.client).write(call_transcript(), CONTEXT)

    assert [c.stage for c in draft.calls][3:5] == ["merge", "merge:repair"]
    repair = bedrock.prompt(4)
    assert "<json_invalido>" in repair and "meio-dia" in repair
    assert "main_theme" in repair.split("<erros_de_validacao>")[1]
    assert bedrock.requests[4]["toolConfig"]["toolChoice"] == {
        "tool": {"name": "registrar_roteiro"}
    }
    assert draft.outline["main_theme"] == OUTLINE["main_theme"]


def test_an_answer_invalid_twice_fails_naming_the_stage(bedrock):
    invalid = {"topics": "nenhum"}
    bedrock.extractions()
    bedrock.reply("registrar_roteiro", invalid)
    bedrock.reply("registrar_roteiro", invalid)

    with pytest.raises(
        WritingStageError, match="'merge'.*still invalid after one repair call"
    ) as failure:
        staged_writer(bedrock.client).write(call_transcript(), CONTEXT)

    assert failure.value.stage == "merge"
    assert [c.stage for c in failure.value.calls][-2:] == ["merge", "merge:repair"]
    assert isinstance(failure.value.__cause__, ValidationError)


# ---- max_tokens stops ------------------------------------------------------------------------


def test_a_truncated_extraction_is_redone_on_the_two_halves_of_its_chunk(bedrock):
    bedrock.reply("registrar_extracao", extraction(*CHUNK_RANGES[0], "Assunto 1"))
    bedrock.truncate()
    bedrock.reply("registrar_extracao", extraction("00:15:00", "00:15:40", "Metade A"))
    bedrock.reply("registrar_extracao", extraction("00:20:00", "00:20:40", "Metade B"))
    bedrock.reply("registrar_extracao", extraction(*CHUNK_RANGES[2], "Assunto 3"))
    bedrock.reply("registrar_roteiro", OUTLINE)
    bedrock.reply("registrar_documento", written_document())
    bedrock.reply("registrar_revisao", written_document())

    draft = staged_writer(bedrock.client).write(call_transcript(), CONTEXT)

    assert [c.stage for c in draft.calls][:5] == [
        "extract:chunk-01",
        "extract:chunk-02",
        "extract:chunk-02a",
        "extract:chunk-02b",
        "extract:chunk-03",
    ]
    assert draft.calls[1].stop_reason == "max_tokens"  # recorded: it was paid for
    assert '<trecho inicio="00:15:00" fim="00:15:40"/>' in bedrock.prompt(2)
    assert '<trecho inicio="00:20:00" fim="00:20:40"/>' in bedrock.prompt(3)
    assert [t["title"] for t in draft.chunk_notes[1]["topics"]] == ["Metade A", "Metade B"]


def test_a_truncated_later_stage_is_retried_once_with_a_larger_budget(bedrock):
    bedrock.extractions()
    bedrock.reply("registrar_roteiro", OUTLINE)
    bedrock.truncate(8192)
    bedrock.reply("registrar_documento", written_document())
    bedrock.reply("registrar_revisao", written_document())

    draft = staged_writer(bedrock.client).write(call_transcript(), CONTEXT)

    budgets = [r["inferenceConfig"]["maxTokens"] for r in bedrock.requests]
    assert budgets[4:6] == [8192, 16384]
    assert [c.stage for c in draft.calls][4:6] == ["write", "write"]
    assert draft.document.troubleshooting[0].title == "CrashLoopBackOff"


def test_a_stage_truncated_twice_fails_instead_of_returning_a_cut_document(bedrock):
    bedrock.extractions()
    bedrock.reply("registrar_roteiro", OUTLINE)
    bedrock.truncate(8192)
    bedrock.truncate(16384)

    with pytest.raises(WritingStageError, match="'write'.*cut at max_tokens again") as failure:
        staged_writer(bedrock.client).write(call_transcript(), CONTEXT)

    assert [c.stop_reason for c in failure.value.calls][-2:] == ["max_tokens", "max_tokens"]


def test_no_retry_when_the_budget_is_already_at_the_cap(bedrock):
    bedrock.extractions()
    bedrock.reply("registrar_roteiro", OUTLINE)
    bedrock.truncate(8192)

    with pytest.raises(WritingStageError, match="'write'.*the cap"):
        staged_writer(bedrock.client, max_output_tokens=8192).write(call_transcript(), CONTEXT)


def test_without_prompt_cache_the_transcript_leads_the_prompt_and_no_cache_point_is_sent(bedrock):
    transcript = call_transcript()
    bedrock.extractions()
    bedrock.reply("registrar_roteiro", OUTLINE)
    bedrock.reply("registrar_documento", written_document())
    bedrock.reply("registrar_revisao", written_document())

    staged_writer(bedrock.client, use_prompt_cache=False).write(transcript, CONTEXT)

    block = transcript_block(transcript)
    for request in bedrock.requests:
        content = request["messages"][0]["content"]
        assert len(content) == 1 and "cachePoint" not in content[0]
        assert content[0]["text"].startswith(block + "\n\n")


# ---- parallel extraction (a scripted model, answering by the time range asked) ---------------


class ScriptedModel:
    """A `ModelClient` that answers each tool with a valid input after a random delay."""

    model_id = MODEL_ID

    def __init__(self, seed: int):
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.in_flight = 0
        self.peak_in_flight = 0
        self.intervals: dict[str, tuple[float, float]] = {}

    def converse(
        self,
        *,
        stage,
        system,
        prompt,
        cached_prefix=None,
        max_tokens=4096,
        tool: ToolSpec | None = None,
    ):
        with self.lock:
            delay = self.random.uniform(0.0, 0.05)
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        started = time.monotonic()
        time.sleep(delay)
        if tool.name == "registrar_extracao":
            start, end = (
                prompt.split('inicio="')[1].split('"')[0],
                prompt.split('fim="')[1].split('"')[0],
            )
            answer = extraction(start, end, f"Assunto de {start}")
        elif tool.name == "registrar_roteiro":
            answer = OUTLINE
        else:
            answer = written_document()
        with self.lock:
            self.in_flight -= 1
            self.intervals[stage] = (started, time.monotonic())
        return ModelReply(
            tool_input=answer,
            stop_reason="tool_use",
            usage=CallUsage(stage=stage, model_id=MODEL_ID, output_tokens=100),
        )


def long_transcript() -> Transcript:
    speakers = ["Ana", "Bruno", "Carla", "Diego"]
    return Transcript(
        segments=[
            Segment(
                start=i * 60.0,
                end=i * 60.0 + 50,
                speaker=speakers[i % 4],
                text=f"Fala {i} sobre o deploy do serviço de pagamentos no cluster de produção.",
            )
            for i in range(60)
        ]
    )


def test_parallel_extraction_keeps_the_chunk_order_and_waits_for_the_cache_writer():
    transcript = long_transcript()
    sequential_model, parallel_model = ScriptedModel(seed=1), ScriptedModel(seed=2)

    sequential = StagedModelWriter(
        sequential_model, chunk_max_tokens=120, max_parallel_chunks=1
    ).write(transcript, CONTEXT)
    parallel = StagedModelWriter(parallel_model, chunk_max_tokens=120, max_parallel_chunks=4).write(
        transcript, CONTEXT
    )

    assert len(parallel.chunk_notes) >= 6
    assert parallel_model.peak_in_flight > 1  # the chunks really overlapped
    assert sequential_model.peak_in_flight == 1
    assert parallel.chunk_notes == sequential.chunk_notes
    assert [c.stage for c in parallel.calls] == [c.stage for c in sequential.calls]
    assert parallel.document == sequential.document
    starts = [note["start"] for note in parallel.chunk_notes]
    assert starts == sorted(starts)
    # The first extraction writes the prompt cache: every other call starts after it ends.
    first_end = parallel_model.intervals["extract:chunk-01"][1]
    assert all(
        start >= first_end
        for stage, (start, _) in parallel_model.intervals.items()
        if stage != "extract:chunk-01"
    )


# ---- the structured output models ------------------------------------------------------------


def test_timestamps_are_read_as_transcript_times_and_a_malformed_one_is_rejected():
    topic = {"title": "Deploy", "summary": "…", "start": "01:02:03", "end": "1:05:00"}
    extracted = ChunkExtraction.model_validate({"topics": [topic]})
    assert (extracted.topics[0].start, extracted.topics[0].end) == (3723.0, 3900.0)
    assert extracted.model_dump(mode="json")["topics"][0]["start"] == "01:02:03"
    with pytest.raises(ValidationError, match="HH:MM:SS"):
        ChunkExtraction.model_validate({"topics": [{**topic, "start": "uma hora"}]})
    with pytest.raises(ValidationError, match="antes do início"):
        Outline.model_validate(
            {"main_theme": "x", "topics": [{"title": "t", "start": "00:10:00", "end": "00:09:00"}]}
        )


# ---- reply cache: a prompt change pays only for the stages it changes ----------------------


class CountingModel(ScriptedModel):
    def __init__(self, seed: int):
        super().__init__(seed)
        self.stages: list[str] = []

    def converse(self, **request):
        with self.lock:
            self.stages.append(request["stage"])
        return super().converse(**request)


def test_an_unchanged_request_is_answered_from_the_reply_cache(tmp_path, monkeypatch):
    from techne_assets.adapters.reply_cache import StorageReplyCache
    from techne_assets.adapters.storage import LocalStorage
    from techne_assets.core.writing import prompts as prompt_texts

    transcript = long_transcript()
    cache = StorageReplyCache(LocalStorage(tmp_path / "work"))
    context = WritingContext(source_name="aula.mp4")

    first_model = CountingModel(seed=1)
    first = StagedModelWriter(first_model, chunk_max_tokens=1200, reply_cache=cache).write(transcript, context)
    assert first_model.stages and not any(call.reused for call in first.calls)

    again_model = CountingModel(seed=2)
    again = StagedModelWriter(again_model, chunk_max_tokens=1200, reply_cache=cache).write(transcript, context)
    assert again_model.stages == []
    assert all(call.reused for call in again.calls) and again.cost_usd == 0
    assert again.document == first.document

    # A new writing prompt: extraction and merge are reused and writing is paid again; this
    # scripted model writes the same draft, so the review's request is unchanged and reused too.
    original = prompt_texts.write_prompt
    monkeypatch.setattr(prompt_texts, "write_prompt", lambda *a, **k: original(*a, **k) + "\nSeja conciso.")
    changed_model = CountingModel(seed=3)
    StagedModelWriter(changed_model, chunk_max_tokens=1200, reply_cache=cache).write(transcript, context)
    assert changed_model.stages == ["write"]
