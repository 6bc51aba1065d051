"""Materializes the whole graph for one video, in-process, on the configured Dagster instance."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from pathlib import Path

import dagster as dg

from techne_assets.adapters.notify import notifier_from_settings
from techne_assets.adapters.reporting import report_completed, report_failed
from techne_assets.adapters.storage import storage_from_uri
from techne_assets.adapters.tracking import tracker_from_settings
from techne_assets.adapters.video_registry import register_video
from techne_assets.core.errors import InputError, ProcessingFailed
from techne_assets.core.publication import PublishedDocument
from techne_assets.defs.errors import describe_step_failure
from techne_assets.defs.partitions import videos_partitions
from techne_assets.defs.resources import build_resources
from techne_assets.settings import Settings, get_settings

_logger = logging.getLogger(__name__)


def locate_video(video: str, input_uri: str | None = None) -> tuple[str, str]:
    """(input URI, key) for a local path or an s3:// URI; the video itself is never moved.

    A video inside the configured input keeps that input as its root and its key under it, the
    key the sensors give it: the same partition, so the same stored transcript and Transcribe
    job. A video anywhere else is read from its own folder."""
    if video.startswith("s3://"):
        bucket_and_key = video.removeprefix("s3://")
        if "/" not in bucket_and_key or bucket_and_key.endswith("/"):
            raise InputError(video, "expected s3://bucket/key of a video object")
        if input_uri and input_uri.startswith("s3://"):
            root = input_uri if input_uri.endswith("/") else f"{input_uri}/"
            if video.startswith(root) and len(video) > len(root):
                return root, video.removeprefix(root)
        folder, _, name = bucket_and_key.rpartition("/")
        return f"s3://{folder}/", name
    path = Path(video)
    if not path.exists():
        raise InputError(video, "no such file")
    if not path.is_file():
        raise InputError(video, "not a file")
    path = path.resolve()
    if input_uri and not input_uri.startswith("s3://"):
        root = Path(input_uri.removeprefix("file://")).resolve()
        if path.is_relative_to(root):
            return str(root), path.relative_to(root).as_posix()
    return str(path.parent), path.name


def _first_failure(result: dg.ExecuteInProcessResult) -> tuple[str, str]:
    """(step, one-line reason) of the run's first failed step."""
    for event in result.all_events:
        if event.is_step_failure:
            return describe_step_failure(event)
    return "run", "the run failed; run again with --verbose for Dagster's logs"


def _report(
    settings: Settings,
    result: dg.ExecuteInProcessResult,
    *,
    video_key: str,
    partition_key: str,
    verbose: bool,
) -> None:
    """What the run-status sensors do for daemon runs (they skip the runs tagged as launched
    here): the tracking record COMPLETED or FAILED, and the notification. The JSON log lines
    the sensors print go to stderr with `verbose` and are dropped otherwise, so stdout stays
    the document's URI and a failure stays one line. A reporting error is logged as a warning
    and never changes the run's outcome."""
    run_url = f"{settings.ui_base_url.rstrip('/')}/runs/{result.run_id}"
    try:
        tracker = tracker_from_settings(settings)
        notifier = notifier_from_settings(settings)
        with contextlib.redirect_stdout(sys.stderr if verbose else io.StringIO()):
            if result.success:
                report_completed(
                    tracker,
                    notifier,
                    execution_id=result.run_id,
                    run_url=run_url,
                    environment=settings.environment,
                )
            else:
                step, reason = _first_failure(result)
                report_failed(
                    tracker,
                    notifier,
                    execution_id=result.run_id,
                    video_key=video_key,
                    partition_key=partition_key,
                    step=step,
                    reason=reason,
                    run_url=run_url,
                    environment=settings.environment,
                )
    # The document (or the failure) stands whatever happens here.
    except Exception as error:  # noqa: BLE001
        _logger.warning("could not report run %s: %s", result.run_id, " ".join(str(error).split()))


def process_video(
    video: str,
    *,
    captions: Path | None = None,
    output: str | None = None,
    verbose: bool = False,
    settings: Settings | None = None,
    instance: dg.DagsterInstance | None = None,
) -> PublishedDocument:
    """Materializes the graph for one video and reports the run as the sensors report daemon
    runs (tracking record, notification); raises ProcessingFailed naming why the run failed."""
    from techne_assets.definitions import defs as load_defs

    settings = settings or get_settings()
    input_uri, key = locate_video(video, settings.input_uri)
    updates: dict[str, object] = {"input_uri": input_uri}
    if output:
        updates["output_uri"] = output
    if captions is not None:
        if not captions.is_file():
            raise InputError(str(captions), "no such caption file")
        updates["transcriber"] = "captions"
    settings = settings.model_copy(update=updates)

    partition_key = register_video(storage_from_uri(settings.work_uri), key)
    instance = instance or dg.DagsterInstance.get()
    instance.add_dynamic_partitions(videos_partitions.name, [partition_key])
    definitions = load_defs()
    result = dg.materialize(
        [*definitions.assets, *definitions.asset_checks],
        partition_key=partition_key,
        instance=instance,
        resources=build_resources(settings, captions_path=str(captions.resolve()) if captions else None),
        run_config={"loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "CRITICAL"}}}},
        tags={"techne/launched_by": "cli", "techne/video_key": key[:255]},
        raise_on_error=False,
    )
    _report(settings, result, video_key=key, partition_key=partition_key, verbose=verbose)
    if not result.success:
        raise ProcessingFailed(_first_failure(result)[1])
    return result.output_for_node("document")
