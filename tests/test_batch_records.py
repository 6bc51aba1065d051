"""Batch record ids, request → record shape, and output line parsing."""

from __future__ import annotations

import hashlib
import re

import pytest
from pydantic import ValidationError

from techne_assets.adapters.bedrock import BedrockConverseClient
from techne_assets.adapters.bedrock_batch import (
    MalformedOutputLine,
    answers_from_output,
    converse_record,
    job_name,
    parse_output_line,
    record_format_reason,
)
from techne_assets.adapters.bedrock_limiter import CircuitBreaker, QuotaLimiter
from techne_assets.adapters.bedrock_state import InProcessStateStore
from techne_assets.core.pricing import ModelPrice
from techne_assets.core.writing.base import CallUsage, ModelReply, ToolSpec
from techne_assets.core.writing.batch_records import BatchAnswer, record_id

MODEL = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
BATCH_PRICE = ModelPrice(input=1.5, output=7.5, cache_write=0.0, cache_read=0.0)
TOOL = ToolSpec(
    name="registrar_extracao",
    description="Registra a extração.",
    input_schema={"type": "object", "properties": {"topics": {"type": "array"}}},
)


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_record_ids_are_deterministic_alphanumeric_and_short():
    labels = ["extract:chunk-01", "extract:chunk-12b", "merge", "write:procedures:2", "review"]
    for label in labels:
        first = record_id("2024-05-01 chamada cliente (parte 1).mp4", label, digest_of(label))
        assert first == record_id(
            "2024-05-01 chamada cliente (parte 1).mp4", label, digest_of(label)
        )
        assert re.fullmatch(r"[A-Za-z0-9]{1,64}", first)


def test_record_ids_are_distinct_across_partitions_stages_and_chunks():
    same_digest = digest_of("one request")
    ids = {
        record_id(partition, label, same_digest)
        for partition in ("a.mp4", "b.mp4", "pasta/a.mp4")
        for label in (
            "extract:chunk-01",
            "extract:chunk-02",
            "extract:chunk-02a",
            "extract:chunk-02b",
            "extract:chunk-02:repair",
            "merge",
            "merge:repair",
            "write:procedures",
            "write:procedures:2",
            "write:troubleshooting",
            "review",
        )
    }
    assert len(ids) == 3 * 11
    # Different requests of the same stage of the same video differ too.
    assert record_id("a.mp4", "merge", digest_of("x")) != record_id(
        "a.mp4", "merge", digest_of("y")
    )


def test_record_id_reads_stage_and_chunk():
    identifier = record_id("a.mp4", "extract:chunk-07b", digest_of("r"))
    assert identifier[10:15] == "X007b"
    assert record_id("a.mp4", "review", digest_of("r"))[10] == "R"
    assert record_id("a.mp4", "merge:repair", digest_of("r"))[10] == "m"


def test_record_id_refuses_something_that_is_not_a_digest():
    with pytest.raises(ValueError, match="digest"):
        record_id("a.mp4", "merge", "not-a-digest")


def test_batch_answer_holds_exactly_one_outcome():
    reply = ModelReply(stop_reason="end_turn", usage=CallUsage(stage="merge", model_id=MODEL))
    BatchAnswer(digest="d", record_id="r", stage="merge", reply=reply)
    BatchAnswer(digest="d", record_id="r", stage="merge", error="cut at max_tokens")
    with pytest.raises(ValidationError):
        BatchAnswer(digest="d", record_id="r", stage="merge")
    with pytest.raises(ValidationError):
        BatchAnswer(digest="d", record_id="r", stage="merge", reply=reply, error="x")


def on_demand_client() -> BedrockConverseClient:
    store = InProcessStateStore()
    return BedrockConverseClient(
        MODEL,
        price_table={MODEL: BATCH_PRICE},
        limiter=QuotaLimiter(
            store, MODEL, requests_per_minute=10, tokens_per_minute=200_000, output_burndown=5.0
        ),
        breaker=CircuitBreaker(store, MODEL),
        runtime_client=object(),
    )


def test_record_is_the_on_demand_request_in_the_native_format_without_cache_point():
    request = dict(
        stage="extract:chunk-01",
        system="Você é um redator técnico.",
        prompt="Extraia o trecho.",
        cached_prefix="[s0001 00:00:01 Ana] transcrição longa",
        max_tokens=2048,
        tool=TOOL,
    )
    record = converse_record("abc123", request)
    assert set(record) == {"recordId", "modelInput"}
    assert record["recordId"] == "abc123"
    on_demand = on_demand_client().build_request(
        system=request["system"],
        prompt=request["prompt"],
        cached_prefix=request["cached_prefix"],
        max_tokens=2048,
        tool=TOOL,
    )
    assert {"cachePoint": {"type": "default"}} in on_demand["messages"][0]["content"]
    # The same request, field by field, in the Anthropic Messages format (tool calling in batch
    # needs the InvokeModel invocation type and the model's native format).
    assert record["modelInput"] == {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": on_demand["inferenceConfig"]["maxTokens"],
        "temperature": on_demand["inferenceConfig"]["temperature"],
        "system": [{"type": "text", "text": on_demand["system"][0]["text"]}],
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "[s0001 00:00:01 Ana] transcrição longa"},
                    {"type": "text", "text": "Extraia o trecho."},
                ],
            }
        ],
        "tools": [
            {
                "name": TOOL.name,
                "description": TOOL.description,
                "input_schema": on_demand["toolConfig"]["tools"][0]["toolSpec"]["inputSchema"][
                    "json"
                ],
            }
        ],
        "tool_choice": {"type": "tool", "name": TOOL.name},
    }
    capped = converse_record("abc123", request, max_output_tokens=1024)
    assert capped["modelInput"]["max_tokens"] == 1024
    # The tool may come as its dict (as stored in a ledger).
    assert converse_record("abc123", {**request, "tool": TOOL.model_dump()}) == record
    plain = converse_record("r", dict(stage="merge", system="s", prompt="p", max_tokens=10))
    assert "tools" not in plain["modelInput"] and "tool_choice" not in plain["modelInput"]


def test_only_anthropic_models_get_records():
    assert record_format_reason("us.anthropic.claude-sonnet-4-20250514-v1:0") is None
    assert record_format_reason("anthropic.claude-3-haiku-20240307-v1:0") is None
    assert "not an Anthropic model" in record_format_reason("amazon.nova-pro-v1:0")


def native_output(stop_reason: str = "tool_use", name: str = TOOL.name) -> dict:
    return {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Segue."},
            {"type": "tool_use", "id": "toolu_1", "name": name, "input": {"topics": ["t"]}},
        ],
        "stop_reason": stop_reason,
        "usage": {"input_tokens": 10_000, "output_tokens": 2_000},
    }


def test_a_native_answer_is_parsed_like_an_on_demand_one():
    record, reply, error = parse_output_line(
        output_line(modelOutput=native_output()),
        model_id=MODEL,
        price=BATCH_PRICE,
        stage="extract:chunk-01",
    )
    assert (record, error) == ("rec1", None)
    assert (reply.text, reply.tool_input, reply.stop_reason) == (
        "Segue.",
        {"topics": ["t"]},
        "tool_use",
    )
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (10_000, 2_000)
    assert reply.usage.cost_usd == pytest.approx((10_000 * 1.5 + 2_000 * 7.5) / 1e6)


@pytest.mark.parametrize(
    ("output", "expected"),
    [
        (native_output("max_tokens"), "cut at max_tokens"),
        (native_output("refusal"), "blocked"),
        (native_output(name="outra"), "did not call the forced tool"),
    ],
)
def test_unusable_native_answers_are_errors(output, expected):
    _, reply, error = parse_output_line(
        output_line(modelOutput=output), model_id=MODEL, price=BATCH_PRICE, stage="merge"
    )
    assert reply is None and expected in error


def output_line(**fields) -> dict:
    return {
        "recordId": "rec1",
        "modelInput": converse_record(
            "rec1",
            dict(stage="extract:chunk-01", system="s", prompt="p", max_tokens=100, tool=TOOL),
        )["modelInput"],
        **fields,
    }


def tool_output(stop_reason: str = "tool_use", name: str = TOOL.name) -> dict:
    return {
        "output": {
            "message": {
                "role": "assistant",
                "content": [
                    {"toolUse": {"toolUseId": "t1", "name": name, "input": {"topics": []}}}
                ],
            }
        },
        "stopReason": stop_reason,
        "usage": {"inputTokens": 10_000, "outputTokens": 2_000, "totalTokens": 12_000},
    }


def test_model_output_becomes_a_reply_priced_at_the_batch_price():
    record, reply, error = parse_output_line(
        output_line(modelOutput=tool_output()),
        model_id=MODEL,
        price=BATCH_PRICE,
        stage="extract:chunk-01",
    )
    assert (record, error) == ("rec1", None)
    assert reply.tool_input == {"topics": []}
    assert reply.usage.stage == "extract:chunk-01"
    assert reply.usage.input_tokens == 10_000
    assert reply.usage.cost_usd == pytest.approx((10_000 * 1.5 + 2_000 * 7.5) / 1e6)


def test_error_line_becomes_an_error_with_its_code():
    _, reply, error = parse_output_line(
        output_line(error={"errorCode": 400, "errorMessage": "bad request"}),
        model_id=MODEL,
        price=BATCH_PRICE,
        stage="merge",
    )
    assert reply is None
    assert error == "batch record error 400: bad request"


def test_max_tokens_is_an_error():
    _, reply, error = parse_output_line(
        output_line(modelOutput=tool_output("max_tokens")),
        model_id=MODEL,
        price=BATCH_PRICE,
        stage="merge",
    )
    assert reply is None
    assert "cut at max_tokens" in error


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, "neither modelOutput nor error"),
        ({"modelOutput": "oops"}, "neither modelOutput nor error"),
        (
            {"modelOutput": {"output": {"message": {"content": [42]}}, "stopReason": "end_turn"}},
            "malformed",
        ),
        ({"modelOutput": tool_output(name="outra_ferramenta")}, "did not call the forced tool"),
        ({"modelOutput": tool_output("content_filtered")}, "blocked"),
    ],
)
def test_unusable_output_lines_are_errors(fields, expected):
    record, reply, error = parse_output_line(
        output_line(**fields), model_id=MODEL, price=BATCH_PRICE, stage="merge"
    )
    assert record == "rec1" and reply is None
    assert expected in error


def test_a_line_without_record_id_cannot_be_reported():
    with pytest.raises(MalformedOutputLine):
        parse_output_line(
            {"modelOutput": tool_output()}, model_id=MODEL, price=BATCH_PRICE, stage="m"
        )


def test_answers_from_output_maps_records_to_digests_and_skips_strangers():
    lines = [
        output_line(modelOutput=tool_output()),
        {**output_line(error={"errorCode": 500, "errorMessage": "x"}), "recordId": "rec2"},
        {**output_line(modelOutput=tool_output()), "recordId": "unknown"},
        {"modelOutput": tool_output()},
    ]
    answers = answers_from_output(
        lines,
        digests={"rec1": "d1", "rec2": "d2"},
        stage_labels={"rec1": "extract:chunk-01", "rec2": "extract:chunk-02"},
        model_id=MODEL,
        price=BATCH_PRICE,
    )
    assert [(a.digest, a.stage, a.reply is not None, a.error) for a in answers] == [
        ("d1", "extract:chunk-01", True, None),
        ("d2", "extract:chunk-02", False, "batch record error 500: x"),
    ]


def test_job_names_follow_the_service_pattern():
    name = job_name("techne", "abcdefgh", "p3", "extract:chunk/01", "x" * 80)
    assert len(name) <= 63
    assert re.fullmatch(r"[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}", name)
    assert name.startswith("techne-abcdefgh-p3-extract-chunk-01-")
