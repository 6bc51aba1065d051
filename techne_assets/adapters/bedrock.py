"""Amazon Bedrock Converse client: the `ModelClient` port behind a circuit breaker, a shared
quota limiter, and tenacity retries; prompt caching of the transcript prefix; cost from the
service's usage fields.

One call goes: breaker (fail fast when open) → limiter (wait for quota) → Converse →
settle the reservation with the real usage. Retryable failures (throttling, unavailability,
timeouts, 5xx, connection errors) repeat that whole sequence with exponential backoff and
jitter; botocore's own retries are off so the two do not multiply. Configuration errors (no
region, no credentials, access denied, an unknown model) are never retried: they raise at once,
and the Dagster resource turns them into one line naming the setting.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    ConnectionError,
    HTTPClientError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
)
from tenacity import (
    RetryCallState,
    Retrying,
    before_sleep_log,
    retry_if_exception,
    stop_after_attempt,
    stop_any,
    wait_random_exponential,
)

from techne_assets.adapters.bedrock_limiter import (
    BedrockError,
    CircuitBreaker,
    CircuitOpenError,
    QuotaLimiter,
    QuotaWaitTimeoutError,
    ReservationTooLargeError,
)
from techne_assets.adapters.bedrock_state import SharedStateStore, open_state_store
from techne_assets.core.pricing import ModelPrice, call_cost_usd
from techne_assets.core.tokens import estimate_tokens
from techne_assets.core.writing.base import CallUsage, ModelReply, ToolSpec, TruncatedOutputError
from techne_assets.settings import Settings

__all__ = [
    "BedrockConverseClient",
    "BedrockError",
    "BedrockRequestError",
    "CircuitOpenError",
    "ContentBlockedError",
    "MissingPriceError",
    "QuotaWaitTimeoutError",
    "ReservationTooLargeError",
    "TruncatedOutputError",
    "UnusableReplyError",
    "client_from_settings",
    "converse_body",
    "is_retryable",
    "parse_converse_response",
]

logger = logging.getLogger(__name__)

# Quota or capacity: worth waiting for, and counted by the circuit breaker.
QUOTA_ERROR_CODES = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "ServiceQuotaExceededException"}
)
AVAILABILITY_ERROR_CODES = frozenset(
    {
        "ModelTimeoutException",
        "ServiceUnavailableException",
        "InternalServerException",
        "ModelNotReadyException",
    }
)
BREAKER_ERROR_CODES = QUOTA_ERROR_CODES | AVAILABILITY_ERROR_CODES

# What each permanent failure usually means for the operator.
_REQUEST_ERROR_HINTS = {
    "AccessDeniedException": "is the model enabled in this account and region (Bedrock console, "
    "Model access) and does the role allow bedrock:InvokeModel on it?",
    "ResourceNotFoundException": "check the model id and the region; inference profiles (us.*) "
    "exist only in their own geography",
    "ValidationException": "the request or the model id was rejected; check TECHNE_BEDROCK_MODEL_ID "
    "and the model's limits",
}

CACHE_POINT = {"cachePoint": {"type": "default"}}


class MissingPriceError(BedrockError, KeyError):
    """The price table has no entry for the configured model id."""

    def __str__(self) -> str:
        return self.args[0]


class BedrockRequestError(BedrockError):
    """The service rejected the request for a reason retrying cannot fix."""

    def __init__(self, model_id: str, code: str, message: str):
        hint = _REQUEST_ERROR_HINTS.get(code, "retrying will not help")
        super().__init__(
            f"Bedrock rejected the call to {model_id} ({code or 'HTTP 4xx'}): {message}; {hint}"
        )
        self.code = code


class UnusableReplyError(BedrockError):
    """The model answered, but not with something the caller can use as is."""

    def __init__(self, message: str, *, reply: ModelReply):
        super().__init__(message)
        self.reply = reply


class ContentBlockedError(UnusableReplyError):
    """A guardrail or the content filter stopped the answer."""


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "") or ""


def _http_status(error: ClientError) -> int:
    return int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)


def _has_code(error: ClientError, codes: frozenset[str]) -> bool:
    # Codes, never messages, decide. Case-folded: event streams spell "throttlingException".
    return error_code(error).casefold() in {code.casefold() for code in codes}


def _counts_for_breaker(error: ClientError) -> bool:
    return _has_code(error, BREAKER_ERROR_CODES) or _http_status(error) >= 500


def is_retryable(error: BaseException) -> bool:
    """Throttling, unavailability, 5xx and network failures are; bad requests are not."""
    if isinstance(error, ClientError):
        return _counts_for_breaker(error)
    return isinstance(error, (ConnectionError, HTTPClientError))


class _stop_after_sleeping:
    """Stops once the backoff sleeps add up to `seconds` (time spent waiting for the
    limiter or for the service's answer is not backoff and does not count)."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for >= self.seconds


class BedrockConverseClient:
    """`ModelClient` for Amazon Bedrock's Converse API."""

    def __init__(
        self,
        model_id: str,
        *,
        price_table: Mapping[str, ModelPrice],
        limiter: QuotaLimiter,
        breaker: CircuitBreaker,
        runtime_client: Any | None = None,
        region: str | None = None,
        max_output_tokens: int = 8192,
        read_timeout_seconds: float = 900.0,
        retry_attempts: int = 6,
        retry_max_backoff_seconds: float = 300.0,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if model_id not in price_table:
            raise MissingPriceError(
                f"no price configured for Bedrock model {model_id!r}; add it to TECHNE_MODEL_PRICES "
                f"(known: {', '.join(sorted(price_table)) or 'none'})"
            )
        self.model_id = model_id
        self.price = price_table[model_id]
        self.limiter = limiter
        self.breaker = breaker
        self.max_output_tokens = max_output_tokens
        # botocore retries off, ours below decide (after the limiter and the breaker). In the
        # retries dict `max_attempts` counts retries (1 would mean 2 attempts); the total is 1.
        self._runtime = runtime_client or boto3.client(
            "bedrock-runtime",
            region_name=region,
            config=Config(
                retries={"total_max_attempts": 1, "mode": "standard"},
                read_timeout=read_timeout_seconds,
                connect_timeout=10,
            ),
        )
        self._retrying = Retrying(
            retry=retry_if_exception(is_retryable),
            stop=stop_any(
                stop_after_attempt(retry_attempts), _stop_after_sleeping(retry_max_backoff_seconds)
            ),
            wait=wait_random_exponential(multiplier=2, max=60),
            sleep=sleep,
            before_sleep=before_sleep_log(logger, logging.WARNING),
            reraise=True,
        )

    @classmethod
    def create(
        cls,
        *,
        model_id: str,
        price_table: Mapping[str, ModelPrice],
        requests_per_minute: int,
        tokens_per_minute: int,
        output_burndown: float,
        state_dir: str | Path,
        state_table: str | None = None,
        region: str | None = None,
        breaker_failure_threshold: int = 5,
        breaker_timeout_seconds: float = 300.0,
        max_output_tokens: int = 8192,
        store: SharedStateStore | None = None,
    ) -> BedrockConverseClient:
        """A client whose limiter and breaker share state through DynamoDB (`state_table`) or,
        without a table, through a SQLite file in `state_dir` shared by local processes."""
        store = store or open_state_store(
            state_table=state_table, state_dir=state_dir, region=region
        )
        return cls(
            model_id,
            price_table=price_table,
            limiter=QuotaLimiter(
                store,
                model_id,
                requests_per_minute=requests_per_minute,
                tokens_per_minute=tokens_per_minute,
                output_burndown=output_burndown,
            ),
            breaker=CircuitBreaker(
                store,
                model_id,
                failure_threshold=breaker_failure_threshold,
                timeout_seconds=breaker_timeout_seconds,
            ),
            region=region,
            max_output_tokens=max_output_tokens,
        )

    def converse(
        self,
        *,
        stage: str,
        system: str,
        prompt: str,
        cached_prefix: str | None = None,
        max_tokens: int = 4096,
        tool: ToolSpec | None = None,
    ) -> ModelReply:
        max_tokens = min(max_tokens, self.max_output_tokens)
        request = self.build_request(
            system=system,
            prompt=prompt,
            cached_prefix=cached_prefix,
            max_tokens=max_tokens,
            tool=tool,
        )
        # Per part, like the service counts its content blocks (joining would add separators).
        parts = [
            system,
            cached_prefix or "",
            prompt,
            json.dumps(request["toolConfig"]) if tool else "",
        ]
        estimated_input = sum(estimate_tokens(part) for part in parts)
        response = self._retrying(self._attempt, request, estimated_input, max_tokens)
        return self.parse_reply(stage, response, tool=tool)

    def build_request(
        self,
        *,
        system: str,
        prompt: str,
        cached_prefix: str | None,
        max_tokens: int,
        tool: ToolSpec | None,
    ) -> dict[str, Any]:
        return {
            "modelId": self.model_id,
            **converse_body(
                system=system,
                prompt=prompt,
                cached_prefix=cached_prefix,
                max_tokens=max_tokens,
                tool=tool,
            ),
        }

    def _attempt(
        self, request: dict[str, Any], estimated_input: int, max_tokens: int
    ) -> dict[str, Any]:
        self.breaker.before_call()
        reservation = self.limiter.acquire(input_tokens=estimated_input, max_tokens=max_tokens)
        try:
            response = self._runtime.converse(**request)
        except (NoCredentialsError, PartialCredentialsError, NoRegionError):
            # Nothing reached the service: give the quota and the probe back, and never retry.
            self.limiter.release(reservation)
            self.breaker.release_probe()
            raise
        except ClientError as error:
            if _has_code(error, QUOTA_ERROR_CODES):
                # Refused at the door: the service consumed nothing.
                self.limiter.release(reservation)
            if _counts_for_breaker(error):
                self.breaker.record_failure()
            else:
                self.breaker.release_probe()
            if not is_retryable(error):
                raise BedrockRequestError(
                    self.model_id,
                    error_code(error),
                    error.response.get("Error", {}).get("Message", ""),
                ) from error
            raise
        usage = response.get("usage", {})
        self.limiter.settle(
            reservation,
            input_tokens=usage.get("inputTokens", 0),
            cache_write_input_tokens=usage.get("cacheWriteInputTokens", 0),
            output_tokens=usage.get("outputTokens", 0),
        )
        self.breaker.record_success()
        return response

    def parse_reply(
        self, stage: str, response: Mapping[str, Any], *, tool: ToolSpec | None = None
    ) -> ModelReply:
        return parse_converse_response(
            stage, response, model_id=self.model_id, price=self.price, tool=tool
        )


def converse_body(
    *,
    system: str,
    prompt: str,
    cached_prefix: str | None,
    max_tokens: int,
    tool: ToolSpec | None,
    cache_point: bool = True,
) -> dict[str, Any]:
    """A Converse request body without `modelId` (on demand adds it; a batch job names the model
    itself). `cache_point=False` sends the prefix as a plain text block (batch has no cache)."""
    # The cache point after the transcript lets the 4-6 calls on one transcript read it
    # from the prompt cache instead of paying full input price each time.
    if cached_prefix:
        between = [CACHE_POINT] if cache_point else []
        content = [{"text": cached_prefix}, *between, {"text": prompt}]
    else:
        content = [{"text": prompt}]
    request: dict[str, Any] = {
        "system": [{"text": system}],
        "messages": [{"role": "user", "content": content}],
        "inferenceConfig": {"maxTokens": max_tokens, "temperature": 0},
    }
    if tool:
        request["toolConfig"] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": tool.name,
                        "description": tool.description,
                        "inputSchema": {"json": tool.input_schema},
                    }
                }
            ],
            "toolChoice": {"tool": {"name": tool.name}},
        }
    return request


def parse_converse_response(
    stage: str,
    response: Mapping[str, Any],
    *,
    model_id: str,
    price: ModelPrice,
    tool: ToolSpec | None = None,
) -> ModelReply:
    """Text, forced tool input, usage and cost from a Converse response; raises when unusable."""
    usage = response.get("usage", {})
    stop_reason = response.get("stopReason", "")
    content = response.get("output", {}).get("message", {}).get("content", [])
    call_usage = CallUsage(
        stage=stage,
        model_id=model_id,
        input_tokens=usage.get("inputTokens", 0),
        output_tokens=usage.get("outputTokens", 0),
        cache_read_input_tokens=usage.get("cacheReadInputTokens", 0),
        cache_write_input_tokens=usage.get("cacheWriteInputTokens", 0),
        cost_usd=call_cost_usd(
            price,
            input_tokens=usage.get("inputTokens", 0),
            output_tokens=usage.get("outputTokens", 0),
            cache_read_input_tokens=usage.get("cacheReadInputTokens", 0),
            cache_write_input_tokens=usage.get("cacheWriteInputTokens", 0),
        ),
        latency_seconds=response.get("metrics", {}).get("latencyMs", 0) / 1000,
        stop_reason=stop_reason,
    )
    tool_uses = [block["toolUse"] for block in content if "toolUse" in block]
    if tool:
        tool_uses = [use for use in tool_uses if use.get("name") == tool.name]
    reply = ModelReply(
        text="".join(block["text"] for block in content if "text" in block),
        tool_input=tool_uses[0]["input"] if tool_uses else None,
        stop_reason=stop_reason,
        usage=call_usage,
    )
    if stop_reason == "max_tokens":
        raise TruncatedOutputError(
            f"{stage}: output cut at max_tokens after {call_usage.output_tokens} tokens",
            reply=reply,
        )
    if stop_reason in {"guardrail_intervened", "content_filtered"}:
        raise ContentBlockedError(f"{stage}: answer blocked ({stop_reason})", reply=reply)
    if stop_reason in {
        "malformed_model_output",
        "malformed_tool_use",
        "model_context_window_exceeded",
    }:
        raise UnusableReplyError(f"{stage}: unusable answer ({stop_reason})", reply=reply)
    if tool and reply.tool_input is None:
        raise UnusableReplyError(
            f"{stage}: the model did not call the forced tool {tool.name!r}", reply=reply
        )
    return reply


def client_from_settings(settings: Settings) -> BedrockConverseClient:
    """The client configured by `techne_assets.settings.Settings` (for the CLI and scripts)."""
    return BedrockConverseClient.create(
        model_id=settings.bedrock_model_id,
        price_table=settings.model_prices,
        requests_per_minute=settings.bedrock_requests_per_minute,
        tokens_per_minute=settings.bedrock_tokens_per_minute,
        output_burndown=settings.bedrock_output_burndown,
        state_dir=settings.state_dir,
        state_table=settings.bedrock_state_table,
        breaker_failure_threshold=settings.breaker_failure_threshold,
        breaker_timeout_seconds=settings.breaker_timeout_seconds,
        max_output_tokens=settings.bedrock_max_output_tokens,
        region=settings.aws_region,
    )
