"""Structured log lines the seed's CloudWatch Logs Insights queries read, and EMF metric records."""

from __future__ import annotations

import time
from typing import Any

METRICS_NAMESPACE = "TechneAssets"


def processing_result_line(
    *, execution_id: str, status: str, video_key: str, cost_usd: float, error: str | None = None
) -> dict[str, Any]:
    """`filter @message like /Processing result/ | stats avg(cost_usd)` reads this line."""
    line = {
        "level": "ERROR" if status == "FAILED" else "INFO",
        "message": "Processing result",
        "execution_id": execution_id,
        "status": status,
        "video_key": video_key,
        "cost_usd": round(cost_usd, 6),
    }
    if error:
        line["error"] = error
    return line


def document_complete_line(
    *, execution_id: str, video_key: str, duration_seconds: float | None, document_uri: str | None
) -> dict[str, Any]:
    """`filter @message like /Document generation complete/ | stats avg(duration_seconds)`."""
    return {
        "level": "INFO",
        "message": "Document generation complete",
        "execution_id": execution_id,
        "video_key": video_key,
        "duration_seconds": round(duration_seconds or 0.0, 3),
        "document_uri": document_uri,
    }


def emf_record(
    *,
    environment: str,
    duration_seconds: float | None,
    cost_usd: float,
    input_tokens: int,
    output_tokens: int,
    failed: bool,
    now: float | None = None,
) -> dict[str, Any]:
    """A CloudWatch embedded-metric-format record: logged as JSON, turned into metrics by Logs."""
    metrics = {
        "DurationSeconds": ("Seconds", round(duration_seconds or 0.0, 3)),
        "CostUsd": ("None", round(cost_usd, 6)),
        "InputTokens": ("Count", input_tokens),
        "OutputTokens": ("Count", output_tokens),
        "RunsFailed": ("Count", 1 if failed else 0),
        "RunsSucceeded": ("Count", 0 if failed else 1),
    }
    return {
        "_aws": {
            "Timestamp": int((now if now is not None else time.time()) * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": METRICS_NAMESPACE,
                    "Dimensions": [["Environment"]],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in metrics.items()],
                }
            ],
        },
        "Environment": environment,
        **{name: value for name, (_, value) in metrics.items()},
    }
