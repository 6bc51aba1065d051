"""Materializes the whole graph for one video, in-process, on the configured Dagster instance."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from techne_assets.adapters.storage import storage_from_uri
from techne_assets.adapters.video_registry import register_video
from techne_assets.core.errors import InputError, ProcessingFailed
from techne_assets.core.publication import PublishedDocument
from techne_assets.defs.partitions import videos_partitions
from techne_assets.defs.resources import build_resources
from techne_assets.settings import Settings, get_settings


def locate_video(video: str) -> tuple[str, str]:
    """(input URI, key) for a local path or an s3:// URI; the video itself is never moved."""
    if video.startswith("s3://"):
        bucket_and_key = video.removeprefix("s3://")
        if "/" not in bucket_and_key or bucket_and_key.endswith("/"):
            raise InputError(video, "expected s3://bucket/key of a video object")
        folder, _, name = bucket_and_key.rpartition("/")
        return f"s3://{folder}/", name
    path = Path(video)
    if not path.exists():
        raise InputError(video, "no such file")
    if not path.is_file():
        raise InputError(video, "not a file")
    return str(path.resolve().parent), path.name


def _failure_description(result: dg.ExecuteInProcessResult) -> str:
    for event in result.all_events:
        if event.is_step_failure:
            data = event.step_failure_data
            if data.user_failure_data and data.user_failure_data.description:
                return data.user_failure_data.description
            if data.error:
                return f"step {event.step_key} failed: {data.error.message.strip().splitlines()[0]}"
    return "the run failed; run again with --verbose for Dagster's logs"


def process_video(
    video: str,
    *,
    captions: Path | None = None,
    output: str | None = None,
    verbose: bool = False,
    settings: Settings | None = None,
    instance: dg.DagsterInstance | None = None,
) -> PublishedDocument:
    from techne_assets.definitions import defs as load_defs

    settings = settings or get_settings()
    input_uri, key = locate_video(video)
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
        tags={"techne/launched_by": "cli"},
        raise_on_error=False,
    )
    if not result.success:
        raise ProcessingFailed(_failure_description(result))
    return result.output_for_node("document")
