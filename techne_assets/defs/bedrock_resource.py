"""The Bedrock resource: the Converse client with its breaker and shared quota limiter, built
from settings, plus the retry rules for assets that call the model."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg

from techne_assets.adapters.bedrock import (
    BedrockConverseClient,
    BedrockRequestError,
    CircuitOpenError,
    ContentBlockedError,
    ReservationTooLargeError,
)
from techne_assets.core.pricing import ModelPrice
from techne_assets.core.writing.staged import WritingStageError
from techne_assets.settings import Settings

# For assets that call Bedrock: transient failures that outlived the client's own retries
# (throttling storms, regional outages) are retried a few minutes later, first after one
# breaker timeout.
BEDROCK_RETRY_POLICY = dg.RetryPolicy(
    max_retries=3, delay=300, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)

# An open circuit is retried at the time the breaker names; six waits of one breaker timeout
# cover half an hour of exhausted quota before the step fails.
CIRCUIT_OPEN_MAX_RETRIES = 6


class ModelPriceConfig(dg.Config):
    """US$ per 1M tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


class BedrockResource(dg.ConfigurableResource):
    """Amazon Bedrock (Converse) for one model, guarded by a circuit breaker and a quota
    limiter whose state is shared by every run: DynamoDB `state_table` when set, else a
    SQLite file in `state_dir` (local runs each get their own process)."""

    model_id: str
    price: ModelPriceConfig | None = None  # None: the client refuses to start, naming the model
    requests_per_minute: int = 10
    tokens_per_minute: int = 200_000
    output_burndown: float = 5.0
    max_output_tokens: int = 8192
    state_table: str | None = None
    state_dir: str = "data/state"
    breaker_failure_threshold: int = 5
    breaker_timeout_seconds: int = 300
    region: str | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> BedrockResource:
        price = settings.model_prices.get(settings.bedrock_model_id)
        return cls(
            model_id=settings.bedrock_model_id,
            # A missing price is an error only when the model is called (not for the offline writer).
            price=ModelPriceConfig(**price.model_dump()) if price else None,
            requests_per_minute=settings.bedrock_requests_per_minute,
            tokens_per_minute=settings.bedrock_tokens_per_minute,
            output_burndown=settings.bedrock_output_burndown,
            max_output_tokens=settings.bedrock_max_output_tokens,
            state_table=settings.bedrock_state_table,
            state_dir=settings.state_dir,
            breaker_failure_threshold=settings.breaker_failure_threshold,
            breaker_timeout_seconds=settings.breaker_timeout_seconds,
        )

    def get_client(self) -> BedrockConverseClient:
        return BedrockConverseClient.create(
            model_id=self.model_id,
            price_table={self.model_id: ModelPrice(**self.price.model_dump())}
            if self.price
            else {},
            requests_per_minute=self.requests_per_minute,
            tokens_per_minute=self.tokens_per_minute,
            output_burndown=self.output_burndown,
            state_dir=self.state_dir,
            state_table=self.state_table,
            region=self.region,
            breaker_failure_threshold=self.breaker_failure_threshold,
            breaker_timeout_seconds=self.breaker_timeout_seconds,
            max_output_tokens=self.max_output_tokens,
        )


def retry_request_for(
    error: CircuitOpenError, *, max_retries: int = CIRCUIT_OPEN_MAX_RETRIES
) -> dg.RetryRequested:
    """The step retry for an open circuit, at the time the breaker names (plus up to 10%
    jitter, so the steps waiting on one breaker do not all come back in the same second)."""
    wait = error.retry_after_seconds * (1 + random.uniform(0, 0.1))
    return dg.RetryRequested(max_retries=max_retries, seconds_to_wait=round(wait, 1))


@contextmanager
def bedrock_errors_to_dagster(*, max_retries: int = CIRCUIT_OPEN_MAX_RETRIES) -> Iterator[None]:
    """Wrap the model-calling part of an asset body.

    An open circuit fails the attempt at once, without calling Bedrock, and asks Dagster to
    retry the step when the breaker's timeout is over (`RetryRequested` takes precedence over
    the asset's retry policy, so the wait is the breaker's, not the policy's). Errors a retry
    cannot fix (model not enabled, invalid request, a call larger than the whole quota, a
    blocked answer) fail the step once, with the reason as its description."""
    try:
        yield
    except CircuitOpenError as error:
        raise retry_request_for(error, max_retries=max_retries) from error
    except (BedrockRequestError, ReservationTooLargeError, ContentBlockedError) as error:
        raise dg.Failure(description=str(error), allow_retries=False) from error
    except WritingStageError as error:
        # The calls made before the failure were paid for: keep their cost on the failed step.
        raise dg.Failure(
            description=" ".join(str(error).split()),
            metadata={
                "stage": error.stage,
                "cost_usd": round(sum(call.cost_usd for call in error.calls), 6),
                "model_calls": len(error.calls),
            },
            allow_retries=False,
        ) from error
