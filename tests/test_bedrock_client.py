"""The Converse client: request shape, parsing of real response bodies, error classification
and retries. Bedrock is reached through botocore's Stubber, which checks every request
against the real service model; response bodies are real ones (tests/data/SOURCES.md)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import boto3
import botocore.parsers
import pytest
from botocore.awsrequest import HeadersDict
from botocore.exceptions import ClientError, ReadTimeoutError
from botocore.stub import Stubber

from techne_assets.adapters.bedrock import (
    BedrockConverseClient,
    BedrockRequestError,
    CircuitOpenError,
    MissingPriceError,
    TruncatedOutputError,
    UnusableReplyError,
    is_retryable,
)
from techne_assets.adapters.bedrock_limiter import CircuitBreaker, CircuitState, QuotaLimiter
from techne_assets.adapters.bedrock_state import InProcessStateStore
from techne_assets.core.pricing import ModelPrice
from techne_assets.core.writing.base import ToolSpec
from techne_assets.defs.bedrock_resource import BedrockResource
from techne_assets.settings import Settings
from techne_assets.testing.clock import FakeClock

BEDROCK_DATA = Path(__file__).parent / "data" / "bedrock"
MODEL_ID = "us.anthropic.claude-sonnet-4-20250514-v1:0"
SONNET = ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30)


def runtime_client():
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def parsed_http_response(status: int, headers: dict[str, str], body: bytes) -> dict:
    """What botocore's REST-JSON parser makes of a raw Converse HTTP response."""
    output_shape = runtime_client().meta.service_model.operation_model("Converse").output_shape
    parser = botocore.parsers.create_parser("rest-json")
    return parser.parse(
        {"status_code": status, "headers": HeadersDict(headers), "body": body}, output_shape
    )


def fixture_body(name: str) -> dict:
    """A real 200 body, parsed the way botocore parses it (unmodelled keys dropped)."""
    parsed = parsed_http_response(200, {}, (BEDROCK_DATA / name).read_bytes())
    parsed.pop("ResponseMetadata")
    return parsed


def fixture_error(name: str) -> dict:
    """A recorded error response (status, x-amzn-ErrorType, body), parsed by botocore."""
    recorded = json.loads((BEDROCK_DATA / name).read_text())
    headers = (
        {"x-amzn-ErrorType": recorded["x-amzn-ErrorType"]} if recorded["x-amzn-ErrorType"] else {}
    )
    return parsed_http_response(
        recorded["http_status"], headers, json.dumps(recorded["body"]).encode()
    )


class Harness:
    """A client over a stubbed runtime, with in-process shared state and a fake clock."""

    def __init__(self, **client_options):
        self.clock = FakeClock()
        self.store = InProcessStateStore()
        self.runtime = runtime_client()
        self.stubber = Stubber(self.runtime)
        self.limiter = QuotaLimiter(
            self.store,
            MODEL_ID,
            requests_per_minute=10,
            tokens_per_minute=200_000,
            output_burndown=5,
            clock=self.clock,
            sleep=self.clock.sleep,
        )
        self.breaker = CircuitBreaker(
            self.store, MODEL_ID, failure_threshold=5, timeout_seconds=300, clock=self.clock
        )
        self.backoff_sleeps: list[float] = []
        self.client = BedrockConverseClient(
            MODEL_ID,
            price_table={MODEL_ID: SONNET},
            limiter=self.limiter,
            breaker=self.breaker,
            runtime_client=self.runtime,
            sleep=self.backoff_sleeps.append,
            **client_options,
        )

    def add_error(self, code: str, message: str = "", status: int = 400) -> None:
        self.stubber.add_client_error(
            "converse", service_error_code=code, service_message=message, http_status_code=status
        )

    def add_reply(
        self, name: str = "pydanticai_claude_no_tools_0.json", expected_params: dict | None = None
    ) -> None:
        self.stubber.add_response("converse", fixture_body(name), expected_params)


@pytest.fixture
def harness():
    harness = Harness()
    with harness.stubber:
        yield harness
    harness.stubber.assert_no_pending_responses()


def test_request_caches_the_prefix_forces_the_tool_and_sets_inference_config(harness):
    tool = ToolSpec(
        name="final_result",
        description="The structured answer.",
        input_schema={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    )
    harness.add_reply(
        "pydanticai_structured_output_tool_use_2.json",
        expected_params={
            "modelId": MODEL_ID,
            "system": [{"text": "Você escreve documentos de treinamento."}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"text": "TRANSCRIÇÃO COMPLETA"},
                        {"cachePoint": {"type": "default"}},
                        {"text": "Liste os tópicos."},
                    ],
                }
            ],
            "inferenceConfig": {"maxTokens": 2000, "temperature": 0},
            "toolConfig": {
                "tools": [
                    {
                        "toolSpec": {
                            "name": "final_result",
                            "description": "The structured answer.",
                            "inputSchema": {"json": tool.input_schema},
                        }
                    }
                ],
                "toolChoice": {"tool": {"name": "final_result"}},
            },
        },
    )

    reply = harness.client.converse(
        stage="outline",
        system="Você escreve documentos de treinamento.",
        prompt="Liste os tópicos.",
        cached_prefix="TRANSCRIÇÃO COMPLETA",
        max_tokens=2000,
        tool=tool,
    )

    assert reply.tool_input == {"city": "London", "date": "2022-01-01", "temperature": "30°C"}
    assert reply.stop_reason == "tool_use"
    assert reply.usage.input_tokens == 821 and reply.usage.output_tokens == 31
    assert reply.usage.stage == "outline" and reply.usage.model_id == MODEL_ID


def test_request_without_prefix_has_one_text_block_and_max_tokens_capped():
    capped = Harness(max_output_tokens=1000)
    capped.add_reply(
        expected_params={
            "modelId": MODEL_ID,
            "system": [{"text": "s"}],
            "messages": [{"role": "user", "content": [{"text": "Qual é a capital da França?"}]}],
            "inferenceConfig": {"maxTokens": 1000, "temperature": 0},
        }
    )
    with capped.stubber:
        reply = capped.client.converse(
            stage="qa", system="s", prompt="Qual é a capital da França?", max_tokens=8000
        )
    capped.stubber.assert_no_pending_responses()
    assert reply.text.startswith("The capital of France is **Paris**.")


@pytest.mark.parametrize(
    ("fixture", "usage", "latency", "stop_reason"),
    [
        # (input, output, cache read, cache write)
        ("pydanticai_cache_write_then_read_0.json", (2, 5, 0, 1322), 2.023, "end_turn"),
        ("pydanticai_cache_write_then_read_1.json", (2, 5, 1322, 0), 1.990, "end_turn"),
        ("pydanticai_cache_usage_tokens_0.json", (13, 5, 1504, 0), 2.014, "end_turn"),
        ("pydanticai_claude_no_tools_0.json", (21, 69, 0, 0), 2.910, "end_turn"),
        ("otel_tool_call_1.json", (553, 59, 0, 0), 0.496, "end_turn"),
        ("pydanticai_structured_output_tool_use_1.json", (627, 67, 0, 0), 0.632, "end_turn"),
    ],
)
def test_usage_cost_latency_and_stop_reason_come_from_the_real_fields(
    harness, fixture, usage, latency, stop_reason
):
    harness.add_reply(fixture)
    reply = harness.client.converse(stage="sections", system="s", prompt="p")

    input_tokens, output_tokens, cache_read, cache_write = usage
    assert (
        reply.usage.input_tokens,
        reply.usage.output_tokens,
        reply.usage.cache_read_input_tokens,
        reply.usage.cache_write_input_tokens,
    ) == usage
    expected_cost = (
        input_tokens * 3.0 + output_tokens * 15.0 + cache_read * 0.30 + cache_write * 3.75
    ) / 1e6
    assert reply.usage.cost_usd == pytest.approx(expected_cost)
    assert reply.usage.latency_seconds == pytest.approx(latency)
    assert reply.stop_reason == reply.usage.stop_reason == stop_reason
    assert reply.text == fixture_body(fixture)["output"]["message"]["content"][0]["text"]


def test_cache_read_is_ten_times_cheaper_than_the_write_of_the_same_prefix(harness):
    harness.add_reply("pydanticai_cache_write_then_read_0.json")
    harness.add_reply("pydanticai_cache_write_then_read_1.json")
    write = harness.client.converse(stage="a", system="s", prompt="p", cached_prefix="prefix")
    read = harness.client.converse(stage="b", system="s", prompt="p", cached_prefix="prefix")
    assert write.usage.cost_usd == pytest.approx((2 * 3 + 5 * 15 + 1322 * 3.75) / 1e6)
    assert read.usage.cost_usd == pytest.approx((2 * 3 + 5 * 15 + 1322 * 0.30) / 1e6)


def test_tool_input_is_the_forced_tools_call(harness):
    harness.add_reply("otel_tool_call_0.json")
    reply = harness.client.converse(
        stage="s",
        system="s",
        prompt="p",
        tool=ToolSpec(name="get_current_weather", description="d", input_schema={"type": "object"}),
    )
    assert reply.tool_input == {"location": "Seattle"}
    assert reply.text.startswith("<thinking>")


def test_a_reply_without_the_forced_tool_is_unusable(harness):
    harness.add_reply("pydanticai_structured_output_tool_use_1.json")
    with pytest.raises(UnusableReplyError, match="did not call the forced tool 'final_result'"):
        harness.client.converse(
            stage="s",
            system="s",
            prompt="p",
            tool=ToolSpec(name="final_result", description="d", input_schema={"type": "object"}),
        )


def test_max_tokens_stop_raises_with_the_partial_reply(harness):
    harness.add_reply("pydanticai_stopReason_max_tokens_0.json")
    with pytest.raises(TruncatedOutputError) as raised:
        harness.client.converse(stage="sections", system="s", prompt="p", max_tokens=5)
    assert raised.value.reply.text == "The capital of France is"
    assert raised.value.reply.usage.output_tokens == 5
    assert raised.value.reply.usage.cost_usd == pytest.approx((13 * 3 + 5 * 15) / 1e6)


@pytest.mark.parametrize("stop_reason", ["guardrail_intervened", "content_filtered"])
def test_blocked_answers_raise(harness, stop_reason):
    body = fixture_body("pydanticai_claude_no_tools_0.json")
    harness.stubber.add_response("converse", {**body, "stopReason": stop_reason})
    with pytest.raises(UnusableReplyError, match=stop_reason):
        harness.client.converse(stage="s", system="s", prompt="p")


@pytest.mark.parametrize(
    "fixture",
    [
        "otel_invalid_model_ValidationException_0.http.json",
        "pydanticai_invalid_model_error_0.http.json",
    ],
)
def test_an_invalid_model_fails_at_once_without_retry(harness, fixture):
    parsed = fixture_error(fixture)
    harness.add_error(
        parsed["Error"]["Code"],
        parsed["Error"]["Message"],
        parsed["ResponseMetadata"]["HTTPStatusCode"],
    )

    with pytest.raises(
        BedrockRequestError, match="The provided model identifier is invalid"
    ) as raised:
        harness.client.converse(stage="s", system="s", prompt="p")

    assert harness.backoff_sleeps == []
    assert harness.breaker.status().failures == 0
    if fixture.startswith("otel"):
        # botocore took the code from x-amzn-ErrorType, dropping the ":http://internal..." suffix.
        assert raised.value.code == "ValidationException"
        assert "TECHNE_BEDROCK_MODEL_ID" in str(raised.value)


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("AccessDeniedException", "is the model enabled in this account"),
        ("ResourceNotFoundException", "check the model id and the region"),
    ],
)
def test_permanent_errors_are_not_retried_and_explain_themselves(harness, code, hint):
    harness.add_error(code, "You don't have access to the model with the specified model ID.", 403)
    with pytest.raises(BedrockRequestError, match=hint):
        harness.client.converse(stage="s", system="s", prompt="p")
    assert harness.backoff_sleeps == []


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ThrottlingException", 429),
        ("TooManyRequestsException", 429),
        ("ServiceQuotaExceededException", 400),
        ("ModelTimeoutException", 408),
        ("ServiceUnavailableException", 503),
        ("InternalServerException", 500),
        ("ModelNotReadyException", 429),
        ("", 502),
    ],
)
def test_transient_errors_are_retried_then_succeed(harness, code, status):
    harness.add_error(code, "transient", status)
    harness.add_reply()
    reply = harness.client.converse(stage="s", system="s", prompt="p")
    assert reply.stop_reason == "end_turn"
    assert len(harness.backoff_sleeps) == 1
    assert harness.breaker.status().failures == 0  # the success reset the count


def test_throttled_reservations_are_given_back_and_only_the_answered_call_holds_quota(harness):
    harness.add_error(
        "ThrottlingException", "Too many tokens, please wait before trying again.", 429
    )
    harness.add_error(
        "ThrottlingException", "Too many tokens, please wait before trying again.", 429
    )
    harness.add_reply("pydanticai_cache_usage_tokens_0.json")
    harness.client.converse(stage="s", system="s", prompt="p", max_tokens=1000)
    usage = harness.limiter.usage()
    # input 13 + output 5 x 5; the 1504 cache-read tokens are not charged against tokens/min.
    assert (usage.requests, usage.tokens) == (1, 13 + 5 * 5)


def test_persistent_throttling_opens_the_circuit_and_stops_calling(harness):
    for _ in range(5):
        harness.add_error(
            "ThrottlingException", "Too many requests, please wait before trying again.", 429
        )
    with pytest.raises(
        CircuitOpenError, match=r"Bedrock quota exhausted; circuit open, retry after 300 s"
    ):
        harness.client.converse(stage="s", system="s", prompt="p")
    # Five calls reached the service (the stubber holds no sixth); the open circuit stopped the rest.
    assert harness.breaker.status().state is CircuitState.OPEN
    assert len(harness.backoff_sleeps) == 5


def test_retries_stop_after_the_configured_attempts():
    harness = Harness(retry_attempts=3)
    for _ in range(3):
        harness.add_error("ServiceUnavailableException", "unavailable", 503)
    with harness.stubber, pytest.raises(ClientError) as raised:
        harness.client.converse(stage="s", system="s", prompt="p")
    assert raised.value.response["Error"]["Code"] == "ServiceUnavailableException"
    assert len(harness.backoff_sleeps) == 2


class FlakyRuntime:
    """A runtime whose first call times out while reading, as a slow connection would."""

    def __init__(self, body: dict):
        self.calls = 0
        self.body = body

    def converse(self, **request):
        self.calls += 1
        if self.calls == 1:
            raise ReadTimeoutError(
                endpoint_url="https://bedrock-runtime.us-east-1.amazonaws.com/model/x/converse"
            )
        return self.body


def test_read_timeouts_are_retried():
    store = InProcessStateStore()
    clock = FakeClock()
    runtime = FlakyRuntime(fixture_body("pydanticai_claude_no_tools_0.json"))
    client = BedrockConverseClient(
        MODEL_ID,
        price_table={MODEL_ID: SONNET},
        limiter=QuotaLimiter(
            store,
            MODEL_ID,
            requests_per_minute=10,
            tokens_per_minute=200_000,
            output_burndown=5,
            clock=clock,
            sleep=clock.sleep,
        ),
        breaker=CircuitBreaker(store, MODEL_ID, clock=clock),
        runtime_client=runtime,
        sleep=lambda seconds: None,
    )
    assert client.converse(stage="s", system="s", prompt="p").usage.output_tokens == 69
    assert runtime.calls == 2


def _throttling_reports() -> list[tuple[str, str, str]]:
    """(source URL, error code, message) for every report in the real-world strings file."""
    text = (BEDROCK_DATA / "throttling_real_world_error_strings.txt").read_text()
    reports = []
    for block in text.split("\n## ")[1:]:
        url = block.split()[0]
        code = re.search(r"\b([Tt]hrottlingException)\b", block).group(1)
        message = re.search(r"Too many [^\"\n)]*", block)
        reports.append((url, code, message.group(0).rstrip() if message else ""))
    return reports


def test_the_real_world_reports_are_all_read():
    reports = _throttling_reports()
    assert len(reports) == 10
    assert {message for _, _, message in reports} >= {
        "Too many tokens, please wait before trying again.",
        "Too many tokens per day, please wait before trying again.",
        (
            "Too many requests, please wait before trying again. You have sent too many requests. "
            "Wait before trying again."
        ),
    }
    assert "throttlingException" in {code for _, code, _ in reports}


@pytest.mark.parametrize(("url", "code", "message"), _throttling_reports())
def test_real_world_throttling_variants_are_classified_by_code(url, code, message):
    runtime = runtime_client()
    with Stubber(runtime) as stubber:
        stubber.add_client_error(
            "converse", service_error_code=code, service_message=message, http_status_code=429
        )
        with pytest.raises(ClientError) as raised:
            runtime.converse(
                modelId=MODEL_ID, messages=[{"role": "user", "content": [{"text": "x"}]}]
            )
    assert raised.value.response["Error"]["Message"] == message
    assert is_retryable(raised.value)


def test_the_recorded_429_parses_to_a_retryable_throttling_error():
    parsed = fixture_error("throttling_429_reconstructed_from_issue99.http.json")
    error = ClientError(parsed, "Converse")
    assert parsed["Error"] == {
        "Code": "ThrottlingException",
        "Message": "Too many tokens, please wait before trying again.",
    }
    assert is_retryable(error)


def test_a_model_without_price_is_refused_at_construction():
    store = InProcessStateStore()
    with pytest.raises(
        MissingPriceError, match="no price configured for Bedrock model 'acme.model-v1'"
    ):
        BedrockConverseClient(
            "acme.model-v1",
            price_table={MODEL_ID: SONNET},
            limiter=QuotaLimiter(
                store, "m", requests_per_minute=1, tokens_per_minute=1000, output_burndown=1
            ),
            breaker=CircuitBreaker(store, "m"),
            runtime_client=runtime_client(),
        )


def test_resource_from_settings_builds_a_client_with_the_settings_quota(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    settings = Settings(
        state_dir=str(tmp_path / "state"),
        bedrock_tokens_per_minute=150_000,
        bedrock_requests_per_minute=7,
        breaker_timeout_seconds=120,
    )
    client = BedrockResource.from_settings(settings).get_client()
    assert client.model_id == settings.bedrock_model_id
    assert client.price == settings.price_for(settings.bedrock_model_id)
    assert (client.limiter.tokens_per_minute, client.limiter.requests_per_minute) == (150_000, 7)
    assert client.breaker.timeout_seconds == 120
    # The local profile shares state through a SQLite file in the state folder.
    assert (tmp_path / "state" / "bedrock_state.sqlite3").exists()


def test_resource_for_an_unpriced_model_fails_when_the_client_is_built(tmp_path):
    settings = Settings(state_dir=str(tmp_path), bedrock_model_id="acme.model-v1")
    resource = BedrockResource.from_settings(settings)
    with pytest.raises(MissingPriceError, match="TECHNE_MODEL_PRICES"):
        resource.get_client()
