"""What a finished run or a failed check tells people: a notification and the outcome log lines."""

from __future__ import annotations

import json
import sys
from pathlib import PurePosixPath

from techne_assets.adapters.notify import Notifier
from techne_assets.adapters.tracking import RunRecord, RunStatus
from techne_assets.core.notifications import (
    check_failed_notification,
    completed_notification,
    failed_notification,
)
from techne_assets.core.observability import (
    document_complete_line,
    emf_record,
    processing_result_line,
)


def _log_json(record: dict) -> None:
    # One JSON object per line on stdout: CloudWatch Logs parses its fields and extracts EMF metrics.
    sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def _log_outcome(record: RunRecord, environment: str) -> None:
    """The `Processing result` line and the EMF metrics of a finished run."""
    failed = record.status == RunStatus.FAILED
    _log_json(
        processing_result_line(
            execution_id=record.execution_id,
            status=record.status.value,
            video_key=record.video_key,
            cost_usd=record.cost_usd,
            error=record.error if failed else None,
        )
    )
    _log_json(
        emf_record(
            environment=environment,
            duration_seconds=record.duration_seconds,
            cost_usd=record.cost_usd,
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            failed=failed,
        )
    )


def _file_name(video_key: str) -> str:
    return PurePosixPath(video_key).name or video_key


def report_completed(notifier: Notifier, record: RunRecord, *, run_url: str, environment: str) -> None:
    """The outcome lines and the "document ready" notification of a published document."""
    document_uri = record.document_uris.get("document.md")
    _log_outcome(record, environment)
    _log_json(
        document_complete_line(
            execution_id=record.execution_id,
            video_key=record.video_key,
            duration_seconds=record.duration_seconds,
            document_uri=document_uri,
        )
    )
    notifier.send(
        completed_notification(
            _file_name(record.video_key),
            record.execution_id,
            document_uri or "(no document.md recorded)",
            record.cost_usd,
            record.duration_seconds,
            record.media_duration_seconds,
            run_url,
            writer_mode=record.writer_mode,
        )
    )


def report_failed(notifier: Notifier, record: RunRecord, *, run_url: str, environment: str) -> None:
    """The outcome lines and the one failure notification; `record.error` is "step: reason"."""
    step, _, reason = (record.error or "run: the run failed").partition(": ")
    _log_outcome(record, environment)
    notifier.send(
        failed_notification(
            _file_name(record.video_key), record.execution_id, step, reason, run_url,
            cost_usd=record.cost_usd, writer_mode=record.writer_mode,
        )
    )


def report_check_failed(
    notifier: Notifier,
    *,
    execution_id: str,
    video_key: str,
    check_name: str,
    asset: str,
    severity: str,
    description: str,
    run_url: str,
) -> None:
    _log_json(
        {
            "level": "ERROR" if severity == "ERROR" else "WARNING",
            "message": "Quality check failed",
            "execution_id": execution_id,
            "video_key": video_key,
            "check": check_name,
            "asset": asset,
            "severity": severity,
            "description": description,
        }
    )
    notifier.send(
        check_failed_notification(
            _file_name(video_key), execution_id, check_name, asset, severity, description, run_url
        )
    )
