"""The Converse simulator over real HTTP: several processes sharing one quota through the
real client and a shared SQLite state (as local `dagster dev` runs do), each reaching the
simulator through `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`; and the simulator's wire format (its
429 is the recorded Bedrock one; tool replies and prompt-cache usage reach the client).
Time is scaled: in the multi-process test one simulated minute lasts 3 s."""

from __future__ import annotations

import json
import multiprocessing
import urllib.error
import urllib.request
from functools import partial
from urllib.parse import quote

import pytest

from techne_assets.core.tokens import estimate_tokens
from techne_assets.core.writing.base import ToolSpec
from techne_assets.defs.bedrock_resource import BedrockResource
from techne_assets.settings import Settings
from techne_assets.testing.converse_simulator import CannedReply, ConverseSimulator
from techne_assets.testing.quota_workload import QuotaSetup, run_calls, text_of_tokens

MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"
TOKENS_PER_MINUTE = 20_000
PROCESSES = 4
CALLS_EACH = 3
SYSTEM = "Você resume chamadas técnicas."


def test_processes_sharing_the_sqlite_state_stay_within_the_quota(tmp_path, monkeypatch):
    simulator = ConverseSimulator(
        requests_per_minute=10,
        tokens_per_minute=TOKENS_PER_MINUTE,
        output_burndown=5,
        time_scale=0.05,
        responder=lambda call: CannedReply(text="Resumo.", output_tokens=300),
    )
    with simulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", simulator.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        setup = QuotaSetup(
            state_path=str(tmp_path / "bedrock_state.sqlite3"),
            model_id=MODEL,
            requests_per_minute=10,
            tokens_per_minute=TOKENS_PER_MINUTE,
            output_burndown=5,
            time_scale=0.05,
        )
        work = partial(
            run_calls,
            setup,
            calls=CALLS_EACH,
            system=SYSTEM,
            cached_prefix=text_of_tokens(1_200),
            prompt=text_of_tokens(800),
            max_tokens=400,
        )
        with multiprocessing.get_context("spawn").Pool(PROCESSES) as pool:
            results = pool.starmap(work, [()] * PROCESSES)

    outcomes = [outcome for result in results for outcome in result]
    assert [outcome.error for outcome in outcomes if not outcome.ok] == []
    assert len(outcomes) == PROCESSES * CALLS_EACH == len(simulator.calls)
    # The limiters, sharing one state, kept every call under the service's own accounting.
    assert len(simulator.throttles) <= 1
    assert simulator.peak_window_quota_tokens() <= TOKENS_PER_MINUTE
    # Each call reserves ~4,000 quota tokens (2,000 input + 400 x 5): no more than 5 fit in a
    # window, so 12 calls needed at least two windows of waiting somewhere.
    assert sum(outcome.waited_seconds for outcome in outcomes) > 0
    # The system prompt and the transcript before the cache point were written to the cache,
    # then read from it.
    assert sum(outcome.cache_read_input_tokens for outcome in outcomes) > 0
    prefix_tokens = estimate_tokens(SYSTEM) + 1_200
    assert all(
        o.cache_read_input_tokens + o.cache_write_input_tokens == prefix_tokens for o in outcomes
    )


def test_the_simulators_throttle_is_the_recorded_bedrock_429(data_dir):
    recorded = json.loads(
        (data_dir / "bedrock" / "throttling_429_reconstructed_from_issue99.http.json").read_text()
    )
    with ConverseSimulator(tokens_per_minute=1_000) as simulator:
        request = urllib.request.Request(
            f"{simulator.endpoint_url}/model/{quote(MODEL, safe='')}/converse",
            data=json.dumps(
                {
                    "messages": [{"role": "user", "content": [{"text": "oi"}]}],
                    "inferenceConfig": {"maxTokens": 4_000},
                }
            ).encode(),
            method="POST",
        )
        with pytest.raises(urllib.error.HTTPError) as raised:
            urllib.request.urlopen(request, timeout=5)
    response = raised.value
    assert response.code == recorded["http_status"] == 429
    assert response.headers["x-amzn-ErrorType"] == recorded["x-amzn-ErrorType"]
    body = response.read()
    assert body == json.dumps(recorded["body"], separators=(",", ":")).encode()
    assert len(body) == 63  # the Content-Length in the original report
    assert simulator.calls == [] and len(simulator.throttles) == 1


def test_the_client_reads_tool_input_and_cache_usage_from_the_simulator(monkeypatch, tmp_path):
    tool = ToolSpec(name="outline", description="d", input_schema={"type": "object"})
    simulator = ConverseSimulator(
        time_scale=0.001,
        responder=lambda call: CannedReply(tool_input={"topics": [call.tool_name]}),
    )
    with simulator:
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", simulator.endpoint_url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        settings = Settings(state_dir=str(tmp_path))
        client = (
            BedrockResource.from_settings(settings)
            .model_copy(update={"region": "us-east-1"})
            .get_client()
        )
        transcript = text_of_tokens(2_000)
        first, second = (
            client.converse(
                stage=stage, system="s", prompt="p", cached_prefix=transcript, tool=tool
            )
            for stage in ("outline", "sections")
        )
    assert first.tool_input == second.tool_input == {"topics": ["outline"]}
    assert first.stop_reason == "tool_use"
    # The cached prefix is the tool's schema, the system prompt and the transcript, in the
    # order Claude reads a request.
    tool_config = client.build_request(
        system="s", prompt="p", cached_prefix=transcript, max_tokens=1, tool=tool
    )["toolConfig"]
    prefix = estimate_tokens(json.dumps(tool_config, ensure_ascii=False)) + 2_001
    assert (first.usage.cache_write_input_tokens, first.usage.cache_read_input_tokens) == (prefix, 0)
    assert (second.usage.cache_write_input_tokens, second.usage.cache_read_input_tokens) == (
        0,
        prefix,
    )
    assert second.usage.cost_usd < first.usage.cost_usd
