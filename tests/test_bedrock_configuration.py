"""Configuration errors of the Bedrock client are never retried, and the region comes from
AWS_REGION as well as AWS_DEFAULT_REGION."""

from __future__ import annotations

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import NoCredentialsError, NoRegionError

from techne_assets.adapters.bedrock import BedrockConverseClient, client_from_settings
from techne_assets.adapters.bedrock_limiter import CircuitBreaker, CircuitState, QuotaLimiter
from techne_assets.adapters.bedrock_state import InProcessStateStore
from techne_assets.core.pricing import ModelPrice
from techne_assets.settings import Settings
from techne_assets.testing.clock import FakeClock

MODEL_ID = "us.anthropic.claude-sonnet-4-20250514-v1:0"
SONNET = ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30)


@pytest.fixture
def no_aws_environment(monkeypatch):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    # No instance metadata lookup for credentials (it would wait for a timeout).
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.parametrize("variable", ["AWS_REGION", "AWS_DEFAULT_REGION"])
def test_either_region_variable_reaches_the_client(no_aws_environment, monkeypatch, tmp_path, variable):
    monkeypatch.setenv(variable, "sa-east-1")
    client = client_from_settings(Settings(state_dir=str(tmp_path)))
    assert client._runtime.meta.region_name == "sa-east-1"


def test_no_region_fails_when_the_client_is_built(no_aws_environment, tmp_path):
    with pytest.raises(NoRegionError):
        client_from_settings(Settings(state_dir=str(tmp_path)))


def test_missing_credentials_fail_once_and_give_the_quota_and_the_probe_back(no_aws_environment):
    clock = FakeClock()
    store = InProcessStateStore()
    limiter = QuotaLimiter(store, MODEL_ID, requests_per_minute=10, tokens_per_minute=200_000,
                           output_burndown=5, clock=clock, sleep=clock.sleep)
    breaker = CircuitBreaker(store, MODEL_ID, failure_threshold=1, timeout_seconds=300, clock=clock)
    breaker.record_failure()  # open: the next call after the timeout is the probe
    clock.sleep(301)
    # A session of its own: the default one may hold credentials cached by an earlier test.
    runtime = boto3.session.Session().client("bedrock-runtime", region_name="us-east-1",
                                             config=Config(retries={"total_max_attempts": 1}))
    backoff: list[float] = []
    client = BedrockConverseClient(MODEL_ID, price_table={MODEL_ID: SONNET}, limiter=limiter,
                                   breaker=breaker, runtime_client=runtime, sleep=backoff.append)
    with pytest.raises(NoCredentialsError):
        client.converse(stage="s", system="s", prompt="p")
    assert backoff == []  # not retried
    assert limiter.usage().requests == 0  # nothing reached the service
    status = breaker.status()
    assert status.state == CircuitState.HALF_OPEN and status.retry_after_seconds == 0
