"""A local HTTP stand-in for Bedrock's Converse API, with its own quota accounting.

It speaks botocore's REST-JSON wire format on `POST /model/{modelId}/converse`, so the real
boto3 client reaches it through the standard `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` setting,
from this process or any other.

Quota, as Bedrock documents it: at admission a call reserves its whole input plus
`maxTokens * burndown`; if the last minute's calls plus this reservation exceed tokens/min
(or the call would exceed requests/min) the answer is HTTP 429 ThrottlingException, shaped
like the real one. At completion the call's share becomes
`inputTokens + cacheWriteInputTokens + outputTokens * burndown`. The simulator keeps this
accounting itself (a sliding window of its own), independent of the client's limiter.

Time: `time_scale` shrinks every duration (latency, the one-minute window, the cache TTL)
by the same factor, so a scaled run keeps the quotas consistent and reports latencies and
usage in simulated (unscaled) units.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import unquote

from techne_assets.core.tokens import estimate_tokens

THROTTLING_ERROR_TYPE = "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/"
TOO_MANY_TOKENS = "Too many tokens, please wait before trying again."
TOO_MANY_REQUESTS = "Too many requests, please wait before trying again."


@dataclass(frozen=True)
class ConverseCall:
    """What a responder sees of one admitted request."""

    model_id: str
    body: dict[str, Any]
    tool_name: str | None
    max_tokens: int


@dataclass(frozen=True)
class CannedReply:
    text: str = "ok"
    tool_input: dict[str, Any] | None = None
    output_tokens: int | None = None  # None: counted from the text


@dataclass
class AdmittedCall:
    """One call the simulated service accepted; times are this process's monotonic seconds."""

    model_id: str
    admitted_at: float
    reserved_tokens: int
    input_tokens: int
    cache_read_input_tokens: int
    cache_write_input_tokens: int
    completed_at: float | None = None
    output_tokens: int = 0
    quota_tokens: int | None = None
    # The forced tool, its JSON schema and the answer sent, so tests can validate answers.
    tool_name: str | None = None
    input_schema: dict[str, Any] | None = None
    tool_input: dict[str, Any] | None = None


class ConverseSimulator:
    def __init__(
        self,
        *,
        requests_per_minute: int = 10,
        tokens_per_minute: int = 200_000,
        output_burndown: float = 5.0,
        output_tokens_per_second: float = 50.0,
        base_latency_seconds: float = 0.4,
        time_scale: float = 1.0,
        cache_ttl_seconds: float = 300.0,
        min_cache_tokens: int = 1024,
        default_max_tokens: int = 64_000,
        count_tokens: Callable[[str], int] = estimate_tokens,
        responder: Callable[[ConverseCall], CannedReply] | None = None,
    ):
        self.requests_per_minute = requests_per_minute
        self.tokens_per_minute = tokens_per_minute
        self.output_burndown = output_burndown
        self.output_tokens_per_second = output_tokens_per_second
        self.base_latency_seconds = base_latency_seconds
        self.time_scale = time_scale
        self.window_seconds = 60.0 * time_scale
        self.cache_ttl_seconds = cache_ttl_seconds * time_scale
        self.min_cache_tokens = min_cache_tokens
        self.default_max_tokens = default_max_tokens
        # Memoised: counting holds the GIL, and a handler thread stuck behind another's count
        # would stamp its arrival late, as if the request had been slow to reach the service.
        self.count_tokens = lru_cache(maxsize=256)(count_tokens)
        self.responder = responder or (lambda call: CannedReply())
        self._lock = threading.Lock()
        self._calls: list[AdmittedCall] = []
        self._throttles: list[tuple[float, str]] = []
        self._cache: dict[str, float] = {}  # prefix digest → expiry
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    @property
    def calls(self) -> list[AdmittedCall]:
        with self._lock:
            return list(self._calls)

    @property
    def throttles(self) -> list[tuple[float, str]]:
        """(time, message) of every request answered with 429."""
        with self._lock:
            return list(self._throttles)

    def peak_window_quota_tokens(self) -> int:
        """The largest settled quota usage of any window of one (scaled) minute."""
        calls = sorted(self.calls, key=lambda call: call.admitted_at)
        return max(
            (
                sum(
                    other.quota_tokens or other.reserved_tokens
                    for other in calls
                    if call.admitted_at - self.window_seconds
                    < other.admitted_at
                    <= call.admitted_at
                )
                for call in calls
            ),
            default=0,
        )

    def handle_converse(
        self, model_id: str, body: dict[str, Any], received_at: float
    ) -> tuple[int, dict[str, str], bytes]:
        """One Converse request, timed from its arrival: (HTTP status, headers, body)."""
        max_tokens = body.get("inferenceConfig", {}).get("maxTokens", self.default_max_tokens)
        total_input, prefix_digest, prefix_tokens = self._count_input(body)
        reserved = total_input + math.ceil(max_tokens * self.output_burndown)
        now = received_at
        with self._lock:
            live = [call for call in self._calls if call.admitted_at > now - self.window_seconds]
            held = sum(
                call.quota_tokens if call.quota_tokens is not None else call.reserved_tokens
                for call in live
            )
            if len(live) + 1 > self.requests_per_minute:
                return self._throttle(now, TOO_MANY_REQUESTS)
            if held + reserved > self.tokens_per_minute:
                return self._throttle(now, TOO_MANY_TOKENS)
            cache_read = cache_write = 0
            if prefix_digest is not None:
                if self._cache.get(prefix_digest, 0.0) > now:
                    cache_read = prefix_tokens
                else:
                    cache_write = prefix_tokens
                self._cache[prefix_digest] = now + self.cache_ttl_seconds
            call = AdmittedCall(
                model_id=model_id,
                admitted_at=now,
                reserved_tokens=reserved,
                input_tokens=total_input - cache_read - cache_write,
                cache_read_input_tokens=cache_read,
                cache_write_input_tokens=cache_write,
            )
            self._calls.append(call)

        tool_config = body.get("toolConfig", {})
        tool_name = tool_config.get("toolChoice", {}).get("tool", {}).get("name")
        canned = self.responder(ConverseCall(model_id, body, tool_name, max_tokens))
        call.tool_name, call.tool_input = tool_name, canned.tool_input
        call.input_schema = next(
            (
                tool["toolSpec"]["inputSchema"]["json"]
                for tool in tool_config.get("tools", [])
                if tool.get("toolSpec", {}).get("name") == tool_name
            ),
            None,
        )
        output_tokens = canned.output_tokens
        if output_tokens is None:
            output_tokens = self.count_tokens(
                canned.text if canned.tool_input is None else json.dumps(canned.tool_input)
            )
        stop_reason = "tool_use" if canned.tool_input is not None else "end_turn"
        if output_tokens >= max_tokens:
            output_tokens, stop_reason = max_tokens, "max_tokens"
        latency = self.base_latency_seconds + output_tokens / self.output_tokens_per_second
        # Counted from the arrival: the time spent building the canned answer is part of it,
        # as a real model's latency is all of its own work.
        time.sleep(max(0.0, received_at + latency * self.time_scale - time.monotonic()))

        with self._lock:
            call.completed_at = time.monotonic()
            call.output_tokens = output_tokens
            call.quota_tokens = (
                call.input_tokens
                + call.cache_write_input_tokens
                + math.ceil(output_tokens * self.output_burndown)
            )
        content: list[dict[str, Any]]
        if canned.tool_input is not None:
            content = [
                {
                    "toolUse": {
                        "toolUseId": f"tooluse_{uuid.uuid4().hex[:22]}",
                        "name": tool_name,
                        "input": canned.tool_input,
                    }
                }
            ]
        else:
            content = [{"text": canned.text}]
        usage = {
            "inputTokens": call.input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": total_input + output_tokens,
            "cacheReadInputTokens": cache_read,
            "cacheWriteInputTokens": cache_write,
        }
        response = {
            "metrics": {"latencyMs": round(latency * 1000)},
            "output": {"message": {"content": content, "role": "assistant"}},
            "stopReason": stop_reason,
            "usage": usage,
        }
        return 200, {"Content-Type": "application/json"}, json.dumps(response).encode()

    def _count_input(self, body: dict[str, Any]) -> tuple[int, str | None, int]:
        """(all input tokens, digest of the cached prefix or None, tokens of that prefix).

        Claude reads a request as tools, then system, then messages, and a cache point caches
        everything before it, so the tools' schemas are part of the cached prefix."""
        tool_config = body.get("toolConfig")
        # The model reads the tools' schemas decoded, not as escaped JSON.
        texts: list[str] = [json.dumps(tool_config, ensure_ascii=False)] if tool_config else []
        blocks: list[dict[str, Any]] = list(body.get("system", []))
        for message in body.get("messages", []):
            blocks.extend(message.get("content", []))
        texts_before_cache_point: list[str] | None = None
        for block in blocks:
            if "cachePoint" in block:
                texts_before_cache_point = list(texts)
            elif "text" in block:
                texts.append(block["text"])
        total = sum(self.count_tokens(text) for text in texts)
        if texts_before_cache_point is None:
            return total, None, 0
        prefix_tokens = sum(self.count_tokens(text) for text in texts_before_cache_point)
        if prefix_tokens < self.min_cache_tokens:
            return total, None, 0
        digest = hashlib.sha256(json.dumps(texts_before_cache_point).encode()).hexdigest()
        return total, digest, prefix_tokens

    def _throttle(self, now: float, message: str) -> tuple[int, dict[str, str], bytes]:
        self._throttles.append((now, message))
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": THROTTLING_ERROR_TYPE}
        return 429, headers, json.dumps({"message": message}, separators=(",", ":")).encode()


def _handler_for(simulator: ConverseSimulator) -> type[BaseHTTPRequestHandler]:
    class ConverseHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            received_at = time.monotonic()
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
            parts = self.path.split("?", 1)[0].strip("/").split("/")
            if len(parts) == 3 and parts[0] == "model" and parts[2] == "converse":
                status, headers, payload = simulator.handle_converse(
                    unquote(parts[1]), body, received_at
                )
            else:
                status = 404
                headers = {
                    "Content-Type": "application/json",
                    "x-amzn-ErrorType": "UnknownOperationException",
                }
                payload = json.dumps({"message": f"no such operation: POST {self.path}"}).encode()
            self.send_response(status)
            for name, value in {**headers, "x-amzn-RequestId": str(uuid.uuid4())}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read the records
            return

    return ConverseHandler
