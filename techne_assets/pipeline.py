"""Materializes the whole graph for one video, in-process, on the configured Dagster instance."""

from __future__ import annotations

import contextlib
import io
import logging
import sys
from pathlib import Path

import dagster as dg

from techne_assets.adapters.storage import storage_from_uri
from techne_assets.adapters.tracking import RunRecord
from techne_assets.core.errors import InputError, ProcessingFailed
from techne_assets.core.partition_keys import input_video_reference, partition_key_for
from techne_assets.core.publication import PublishedDocument
from techne_assets.defs.partitions import videos_partitions
from techne_assets.defs.resources import build_resources
from techne_assets.defs.run_report import report_run, run_failure
from techne_assets.defs.run_tags import LAUNCHED_BY_TAG, PARTITION_TAG, VIDEO_KEY_TAG
from techne_assets.settings import Settings, get_settings

_logger = logging.getLogger(__name__)


def locate_video(video: str, input_uri: str) -> str:
    """The video reference (core/partition_keys.py) of a local path or an s3:// URI; the video
    itself is never moved.

    A video inside the configured input gets its key there, the one the sensors give it: the
    same partition, so the same stored transcript and Transcribe job. A video anywhere else is
    named by its whole location (absolute path or S3 URI), so two `call.mp4` in different
    folders never share a partition."""
    if video.startswith("s3://"):
        bucket_and_key = video.removeprefix("s3://")
        if "/" not in bucket_and_key or bucket_and_key.endswith("/"):
            raise InputError(video, "expected s3://bucket/key of a video object")
        if input_uri.startswith("s3://"):
            root = input_uri if input_uri.endswith("/") else f"{input_uri}/"
            if video.startswith(root) and len(video) > len(root):
                return input_video_reference(video.removeprefix(root), root)
        return video
    path = Path(video)
    if not path.exists():
        raise InputError(video, "no such file")
    if not path.is_file():
        raise InputError(video, "not a file")
    path = path.resolve()
    if not input_uri.startswith("s3://"):
        root = Path(input_uri.removeprefix("file://")).resolve()
        if path.is_relative_to(root):
            return path.relative_to(root).as_posix()
    return str(path)


def _report(instance: dg.DagsterInstance, run_id: str, resources: dict, *, verbose: bool) -> RunRecord | None:
    """What the run-status sensors do for daemon runs (they skip the runs tagged as launched
    here): the same `report_run` on the finished run. The JSON log lines go to stderr with
    `verbose` and are dropped otherwise, so stdout stays the document's URI and a failure stays
    one line. A reporting error is logged as a warning and never changes the run's outcome."""
    run = instance.get_run_by_id(run_id)
    if run is None:
        return None
    try:
        with contextlib.redirect_stdout(sys.stderr if verbose else io.StringIO()):
            return report_run(instance, run, resources["tracking"], resources["notifier"])
    # The document (or the failure) stands whatever happens here.
    except Exception as error:  # noqa: BLE001
        _logger.warning("could not report run %s: %s", run_id, " ".join(str(error).split()))
        return None


def _interrupted(instance: dg.DagsterInstance, run_id: str | None, reason: str) -> None:
    """Marks the run failed with `reason` when Ctrl-C or SIGTERM ended it mid-way."""
    run = instance.get_run_by_id(run_id) if run_id else None
    if run is not None and not run.is_finished:
        instance.report_run_failed(run, message=reason)


def _latest_cli_run(instance: dg.DagsterInstance, partition_key: str) -> str | None:
    runs = instance.get_runs(
        dg.RunsFilter(tags={LAUNCHED_BY_TAG: "cli", PARTITION_TAG: partition_key}), limit=1
    )
    return runs[0].run_id if runs else None


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
    reference = locate_video(video, settings.input_uri)
    updates: dict[str, object] = {}
    if output:
        updates["output_uri"] = output
    if captions is not None:
        if not captions.is_file():
            raise InputError(str(captions), "no such caption file")
        updates["transcriber"] = "captions"
    settings = settings.model_copy(update=updates)

    # Refused before any work is paid for, not after the document is written.
    storage_from_uri(settings.output_uri, settings.aws_region).check_writable()
    storage_from_uri(settings.store_uri, settings.aws_region).check_writable()
    partition_key = partition_key_for(reference)
    instance = instance or dg.DagsterInstance.get()
    instance.add_dynamic_partitions(videos_partitions.name, [partition_key])
    definitions = load_defs()
    resources = build_resources(settings, captions_path=str(captions.resolve()) if captions else None)
    try:
        result = dg.materialize(
            [*definitions.assets, *definitions.asset_checks],
            partition_key=partition_key,
            instance=instance,
            resources=resources,
            run_config={"loggers": {"console": {"config": {"log_level": "DEBUG" if verbose else "CRITICAL"}}}},
            tags={LAUNCHED_BY_TAG: "cli", VIDEO_KEY_TAG: reference},
            raise_on_error=False,
        )
    except KeyboardInterrupt:
        # Ctrl-C or SIGTERM, often during a quota wait: the run ends now, tracked FAILED.
        run_id = _latest_cli_run(instance, partition_key)
        _interrupted(instance, run_id, "interrupted (Ctrl-C or SIGTERM) before the run finished")
        if run_id:
            _report(instance, run_id, resources, verbose=verbose)
        raise
    record = _report(instance, result.run_id, resources, verbose=verbose)
    if not result.success:
        if record is not None and record.error:
            raise ProcessingFailed(record.error.partition(": ")[2])
        raise ProcessingFailed(run_failure(instance, result.dagster_run).reason)
    return result.output_for_node("published_document")
