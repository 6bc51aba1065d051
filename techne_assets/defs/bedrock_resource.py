"""The Bedrock resource: the Converse client with its breaker and shared quota limiter, plus
the one place that turns model errors into Dagster's retry decisions.

Retry owners (README, "Retries"): transient errors are retried by tenacity inside the client;
an exhausted quota (open circuit, limiter wait over) is retried by the step, at the time the
breaker names, for at most `quota_wait_max_seconds` in all; everything else fails the step
once, with a one-line reason, and the instance's run retries do not repeat step failures.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from contextlib import contextmanager

import dagster as dg
from botocore.exceptions import NoCredentialsError, NoRegionError, PartialCredentialsError
from pydantic import PrivateAttr

from techne_assets.adapters.bedrock import (
    BedrockConverseClient,
    BedrockRequestError,
    CircuitOpenError,
    ContentBlockedError,
    MissingPriceError,
    QuotaWaitTimeoutError,
    ReservationTooLargeError,
)
from techne_assets.core.pricing import ModelPrice
from techne_assets.core.writing.staged import WritingStageError
from techne_assets.settings import Settings, setting_default

# Waits are printed by `techne process` (it listens to this logger) and logged in the step.
wait_logger = logging.getLogger("techne_assets.quota_waits")

# Request errors that mean the model id itself is wrong or not enabled here.
_MODEL_ID_ERROR_CODES = frozenset({"ResourceNotFoundException", "AccessDeniedException"})


class ModelPriceConfig(dg.Config):
    """US$ per 1M tokens."""

    input: float
    output: float
    cache_write: float
    cache_read: float


class BedrockResource(dg.ConfigurableResource):
    """Amazon Bedrock (Converse) for one model, guarded by a circuit breaker and a quota
    limiter whose state is shared by every run: DynamoDB `state_table` when set, else a
    SQLite file in `state_dir`. The client is built once per resource instance (one per step
    process)."""

    model_id: str = setting_default("bedrock_model_id")
    price: ModelPriceConfig | None = None  # None: the client refuses to start, naming the model
    requests_per_minute: int = setting_default("bedrock_requests_per_minute")
    tokens_per_minute: int = setting_default("bedrock_tokens_per_minute")
    output_burndown: float = setting_default("bedrock_output_burndown")
    max_output_tokens: int = setting_default("bedrock_max_output_tokens")
    state_table: str | None = setting_default("bedrock_state_table")
    state_dir: str = setting_default("state_dir")
    breaker_failure_threshold: int = setting_default("breaker_failure_threshold")
    breaker_timeout_seconds: int = setting_default("breaker_timeout_seconds")
    quota_wait_max_seconds: int = setting_default("quota_wait_max_seconds")
    region: str | None = None

    _client: BedrockConverseClient | None = PrivateAttr(default=None)

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
            quota_wait_max_seconds=settings.quota_wait_max_seconds,
            region=settings.aws_region,
        )

    @property
    def quota_max_retries(self) -> int:
        """How many breaker-timed waits fit in `quota_wait_max_seconds` (at least one)."""
        return max(1, self.quota_wait_max_seconds // max(1, self.breaker_timeout_seconds))

    def get_client(self) -> BedrockConverseClient:
        if self._client is None:
            self._client = BedrockConverseClient.create(
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
        return self._client


def quota_wait_line(seconds: float, attempt: int, max_retries: int) -> str:
    """The line printed for one wait, e.g. "... nova tentativa em 300 s, 2/3"."""
    return (
        f"cota do Bedrock esgotada (circuito aberto): nova tentativa em {round(seconds)} s, "
        f"{attempt}/{max_retries}"
    )


def quota_exhausted_line(model_id: str, waited_seconds: int, cause: str) -> str:
    return (
        f"cota do Bedrock esgotada para {model_id} (TECHNE_BEDROCK_REQUESTS_PER_MINUTE / "
        f"TECHNE_BEDROCK_TOKENS_PER_MINUTE e a cota da conta): sem resposta após {waited_seconds} s "
        f"de espera (TECHNE_QUOTA_WAIT_MAX_SECONDS); {' '.join(cause.split())}"
    )


def retry_request_for(
    error: CircuitOpenError | QuotaWaitTimeoutError,
    *,
    retry_number: int,
    max_retries: int,
    wait_seconds: float,
    model_id: str,
    log: logging.Logger | dg.DagsterLogManager | None = None,
) -> dg.RetryRequested | dg.Failure:
    """The step retry for an exhausted quota, at the time the breaker names (plus up to 10%
    jitter, so the steps waiting on one breaker do not all come back in the same second); once
    `max_retries` waits are spent, a final Failure that names the quota."""
    if retry_number >= max_retries:
        return dg.Failure(
            description=quota_exhausted_line(model_id, round(max_retries * wait_seconds), str(error)),
            allow_retries=False,
        )
    # An open circuit names its own time; a limiter that gave up waits one breaker timeout.
    wait = error.retry_after_seconds if isinstance(error, CircuitOpenError) else wait_seconds
    wait = round(wait * (1 + random.uniform(0, 0.1)), 1)
    line = quota_wait_line(wait, retry_number + 1, max_retries)
    wait_logger.warning(line)
    if log is not None:
        log.warning(line)
    return dg.RetryRequested(max_retries=max_retries, seconds_to_wait=wait)


def _configuration_failure(setting: str, reason: str) -> dg.Failure:
    return dg.Failure(description=f"{setting}: {' '.join(reason.split())}", allow_retries=False)


@contextmanager
def bedrock_errors_to_dagster(
    context: dg.AssetExecutionContext, bedrock: BedrockResource
) -> Iterator[None]:
    """Wrap the model-calling part of an asset body.

    An exhausted quota fails the attempt at once, without calling Bedrock, and asks Dagster to
    retry the step when the breaker's timeout is over. Configuration errors (no region, no
    credentials, unknown or unpriced model) and errors a retry cannot fix (invalid request, a
    call larger than the whole quota, a blocked answer) fail the step once, with one line."""
    try:
        yield
    except (CircuitOpenError, QuotaWaitTimeoutError) as error:
        raise retry_request_for(
            error,
            retry_number=context.retry_number,
            max_retries=bedrock.quota_max_retries,
            wait_seconds=bedrock.breaker_timeout_seconds,
            model_id=bedrock.model_id,
            log=context.log,
        ) from error
    except NoRegionError as error:
        raise _configuration_failure(
            "AWS_REGION", f"no AWS region configured for Bedrock ({error}); set AWS_REGION or AWS_DEFAULT_REGION"
        ) from error
    except (NoCredentialsError, PartialCredentialsError) as error:
        raise _configuration_failure(
            "AWS credentials", f"{error}; set AWS_PROFILE or the task role"
        ) from error
    except MissingPriceError as error:
        raise _configuration_failure("TECHNE_MODEL_PRICES", str(error)) from error
    except BedrockRequestError as error:
        if error.code in _MODEL_ID_ERROR_CODES:
            raise _configuration_failure("TECHNE_BEDROCK_MODEL_ID", str(error)) from error
        raise dg.Failure(description=" ".join(str(error).split()), allow_retries=False) from error
    except (ReservationTooLargeError, ContentBlockedError) as error:
        raise dg.Failure(description=" ".join(str(error).split()), allow_retries=False) from error
    except WritingStageError as error:
        raise dg.Failure(
            description=" ".join(str(error).split()),
            metadata={"stage": error.stage, "model_calls": len(error.calls)},
            allow_retries=False,
        ) from error
