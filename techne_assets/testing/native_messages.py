"""The batch stand-in's reading of the Anthropic Messages format (InvokeModel's native body for
Claude models), so it can answer a native record through the Converse simulator.

It maps in the opposite direction to the adapter (native request → Converse request,
Converse response → native response) and is written separately from it, so a field the
adapter maps wrongly shows up as a wrong answer in tests instead of cancelling out.
"""

from __future__ import annotations

import secrets
from typing import Any


class MalformedInput(ValueError):
    """A record the model would reject: the service answers it with a 400 error line."""


def converse_request_of(native: Any) -> dict[str, Any]:
    """The Converse request body equivalent to an Anthropic Messages request body."""
    if not isinstance(native, dict):
        raise MalformedInput("Malformed input request: modelInput is not an object")
    missing = [
        name for name in ("anthropic_version", "max_tokens", "messages") if name not in native
    ]
    if missing:
        raise MalformedInput(f"Malformed input request: required key(s) {missing} not found")
    system = native.get("system") or []
    if isinstance(system, str):
        system = [{"type": "text", "text": system}]
    body: dict[str, Any] = {
        "system": [{"text": block["text"]} for block in system],
        "messages": [],
        "inferenceConfig": {"maxTokens": native["max_tokens"]},
    }
    if "temperature" in native:
        body["inferenceConfig"]["temperature"] = native["temperature"]
    for message in native["messages"]:
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        if not blocks or any(block.get("type") != "text" for block in blocks):
            raise MalformedInput("Malformed input request: only text content is answered here")
        body["messages"].append(
            {"role": message["role"], "content": [{"text": block["text"]} for block in blocks]}
        )
    if tools := native.get("tools"):
        body["toolConfig"] = {
            "tools": [
                {
                    "toolSpec": {
                        "name": tool["name"],
                        "description": tool.get("description", ""),
                        "inputSchema": {"json": tool["input_schema"]},
                    }
                }
                for tool in tools
            ]
        }
        choice = native.get("tool_choice") or {}
        if choice.get("type") == "tool":
            body["toolConfig"]["toolChoice"] = {"tool": {"name": choice["name"]}}
    return body


def native_response_of(converse: dict[str, Any], model_id: str) -> dict[str, Any]:
    """The Anthropic Messages response body equivalent to a Converse response body."""
    content: list[dict[str, Any]] = []
    for block in converse["output"]["message"]["content"]:
        if "text" in block:
            content.append({"type": "text", "text": block["text"]})
        elif "toolUse" in block:
            use = block["toolUse"]
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_bdrk_{secrets.token_hex(12)}",
                    "name": use["name"],
                    "input": use["input"],
                }
            )
    usage = converse.get("usage", {})
    return {
        "id": f"msg_bdrk_{secrets.token_hex(12)}",
        "type": "message",
        "role": "assistant",
        "model": model_id,
        "content": content,
        # Converse and Anthropic name these stop reasons alike (end_turn, tool_use, max_tokens).
        "stop_reason": converse["stopReason"],
        "stop_sequence": None,
        "usage": {
            "input_tokens": usage.get("inputTokens", 0),
            "output_tokens": usage.get("outputTokens", 0),
        },
    }
