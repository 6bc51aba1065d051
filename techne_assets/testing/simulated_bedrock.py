"""The real Bedrock client (limiter, breaker, retries, boto3) pointed at a `ConverseSimulator`,
with every duration of the client scaled like the simulator's, for tests and benchmarks."""

from __future__ import annotations

import time

import boto3
from botocore.config import Config

from techne_assets.adapters.bedrock import BedrockConverseClient
from techne_assets.adapters.bedrock_limiter import CircuitBreaker, QuotaLimiter
from techne_assets.adapters.bedrock_state import InProcessStateStore
from techne_assets.core.pricing import ModelPrice
from techne_assets.testing.converse_simulator import ConverseSimulator

TRANSPORT_SECONDS = 0.15


def simulated_bedrock_client(
    simulator: ConverseSimulator,
    model_id: str,
    price: ModelPrice,
    *,
    max_output_tokens: int = 64_000,
) -> BedrockConverseClient:
    """A client that keeps to the simulator's own quota, in the simulator's time scale."""
    scale = simulator.time_scale
    runtime = boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        endpoint_url=simulator.endpoint_url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}, max_pool_connections=16),
    )
    store = InProcessStateStore()
    return BedrockConverseClient(
        model_id,
        price_table={model_id: price},
        limiter=QuotaLimiter(
            store,
            model_id,
            requests_per_minute=simulator.requests_per_minute,
            tokens_per_minute=simulator.tokens_per_minute,
            output_burndown=simulator.output_burndown,
            window_seconds=60 * scale,
            # A request reaches the simulator a few milliseconds after the limiter admits it
            # (serializing, signing, the GIL); scaled time magnifies that, so the margin is
            # at least what it takes in real time.
            safety_seconds=max(scale, TRANSPORT_SECONDS),
            poll_seconds=scale,
        ),
        breaker=CircuitBreaker(store, model_id, failure_threshold=5, timeout_seconds=300 * scale),
        runtime_client=runtime,
        max_output_tokens=max_output_tokens,
        sleep=lambda seconds: time.sleep(seconds * scale),
    )
