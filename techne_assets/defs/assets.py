"""The per-video asset graph: video → transcript → draft → document."""

import tempfile
import time
from pathlib import Path

import dagster as dg
from dagster._core.storage.tags import PARENT_RUN_ID_TAG

from techne_assets.adapters import media
from techne_assets.adapters.screenshots import screenshots_for_steps
from techne_assets.adapters.export import document_to_docx, markdown_to_html
from techne_assets.adapters.tracking import RunStatus
from techne_assets.adapters.video_registry import resolve_video
from techne_assets.core.document import TITLE, render_markdown
from techne_assets.core.publication import PublishedDocument, video_link
from techne_assets.core.transcript import Transcript
from techne_assets.core.video import VideoInfo
from techne_assets.core.writing.base import Draft, WritingContext
from techne_assets.defs.bedrock_resource import (
    BEDROCK_RETRY_POLICY,
    BedrockResource,
    bedrock_errors_to_dagster,
)
from techne_assets.defs.errors import input_errors_fail_the_step
from techne_assets.defs.partitions import videos_partitions
from techne_assets.defs.resources import (
    StorageResource,
    TrackingResource,
    TranscriberResource,
    WriterResource,
)
from techne_assets.settings import get_settings

OWNERS = ["team:techne-ops"]
GROUP = "call_documents"
PREVIEW_CHARS = 6000


def _track(
    context: dg.AssetExecutionContext, tracking: TrackingResource, video: VideoInfo, **fields
) -> None:
    """Keeps this run's tracking record current; a run may start at any asset of the graph."""
    tracker = tracking.get()
    if tracker.get(context.run.run_id) is None:
        # A retry (run retries, re-execution from failure) records the run it continues.
        tracker.start(
            context.run.run_id,
            video_key=video.key,
            partition_key=video.partition_key,
            parent_execution_id=context.run.tags.get(PARENT_RUN_ID_TAG),
        )
    tracker.update(context.run.run_id, **fields)


def _seconds_since_run_start(context: dg.AssetExecutionContext) -> float:
    """Wall time of this run up to now, plotted per partition in the UI."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    started = record.start_time if record and record.start_time else time.time()
    return time.time() - started


@dg.asset(
    partitions_def=videos_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"ffmpeg", "s3" if get_settings().profile == "aws" else "file"},
    code_version="1",
    tags={"pipeline_stage": "source"},
    description="The source recording: where it is, its size and content tag, and what ffprobe "
    "sees in it (duration, codecs, audio streams). Never modified.",
)
def video(
    context: dg.AssetExecutionContext,
    input_storage: StorageResource,
    work_storage: StorageResource,
    tracking: TrackingResource,
) -> VideoInfo:
    with input_errors_fail_the_step():
        inputs = input_storage.get()
        key = resolve_video(work_storage.get(), inputs, context.partition_key)
        # A local file's content hash lets the sensor recognize the same video copied again.
        stored = inputs.stat(key, with_hash=not inputs.root_uri.startswith("s3://"))
        info = VideoInfo(
            partition_key=context.partition_key,
            key=key,
            uri=inputs.uri(key),
            size_bytes=stored.size,
            etag=stored.etag,
            content_id=stored.content_id,
            last_modified=stored.last_modified.isoformat() if stored.last_modified else None,
            media=media.probe(inputs.media_url(key), name=inputs.uri(key)),
        )
    _track(context, tracking, info, media_duration_seconds=info.media.duration_seconds)
    context.add_output_metadata(
        {
            "source_key": key,
            "uri": dg.MetadataValue.path(info.uri),
            "size_bytes": info.size_bytes,
            "etag": info.etag,
            "content_id": info.content_id,
            "duration_seconds": round(info.media.duration_seconds, 3),
            "video_codec": info.media.video_codec or "none",
            "audio_streams": len(info.media.audio_streams),
        }
    )
    return info


@dg.asset(
    partitions_def=videos_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"transcribe" if get_settings().transcriber == "transcribe" else "captions"},
    code_version="1",
    tags={"pipeline_stage": "transcription"},
    description="Normalized transcript: timed, speaker-labelled segments, language and media "
    "duration. Materialized once per video content; re-writing a document does not pay for it again.",
)
def transcript(
    context: dg.AssetExecutionContext,
    video: VideoInfo,
    transcriber: TranscriberResource,
    input_storage: StorageResource,
    tracking: TrackingResource,
) -> Transcript:
    _track(context, tracking, video, status=RunStatus.TRANSCRIBING)
    with input_errors_fail_the_step():
        result = transcriber.get().transcribe(
            video,
            input_storage.get().media_url(video.key),
            job_key=f"{video.partition_key}-{video.content_id}",
        )
    result = result.model_copy(update={"duration": video.media.duration_seconds})
    context.add_output_metadata(
        {
            "segments": len(result.segments),
            "words": result.word_count,
            "speakers": len(result.speakers),
            "language": result.language or "unknown",
            "spoken_until_seconds": round(result.spoken_end, 3),
            "media_duration_seconds": round(video.media.duration_seconds, 3),
        }
    )
    return result


@dg.asset(
    partitions_def=videos_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"bedrock" if get_settings().writer == "bedrock" else "python"},
    code_version="1",
    tags={"pipeline_stage": "writing"},
    pool="bedrock",
    retry_policy=BEDROCK_RETRY_POLICY,
    description="The writer's intermediate artifacts: per-chunk notes, outline, section texts and "
    "the usage and cost of every model call, plus the document model they compose.",
)
def draft(
    context: dg.AssetExecutionContext,
    video: VideoInfo,
    transcript: Transcript,
    writer: WriterResource,
    bedrock: BedrockResource,
    tracking: TrackingResource,
) -> Draft:
    _track(context, tracking, video, status=RunStatus.WRITING)
    with bedrock_errors_to_dagster():
        result = writer.get(bedrock).write(
            transcript,
            WritingContext(
                source_name=Path(video.key).name,
                call_date=(video.last_modified or "")[:10] or None,
                media_duration=video.media.duration_seconds,
            ),
        )
    context.add_output_metadata(
        {
            "writer": result.writer,
            "chunks": len(result.chunk_notes),
            "model_calls": sum(not call.reused for call in result.calls),
            "reused_model_calls": sum(call.reused for call in result.calls),
            "input_tokens": result.input_tokens,
            "output_tokens": result.output_tokens,
            "cost_usd": result.cost_usd,
            "removed_ungrounded": len(result.removed_ungrounded),
        }
    )
    return result


@dg.asset(
    partitions_def=videos_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"markdown", "html", "docx"},
    code_version="1",
    tags={"pipeline_stage": "publication"},
    description=f"The '{TITLE}' in Markdown, HTML and DOCX, with real frames from the video beside "
    "the steps shown on screen, published under the video's partition in the output storage.",
)
def document(
    context: dg.AssetExecutionContext,
    video: VideoInfo,
    transcript: Transcript,
    draft: Draft,
    input_storage: StorageResource,
    output_storage: StorageResource,
    tracking: TrackingResource,
) -> PublishedDocument:
    doc = draft.document.model_copy(deep=True)
    doc.header.video_url = video_link(
        video_key=video.key,
        partition_key=context.partition_key,
        input_uri=input_storage.uri,
        output_uri=output_storage.uri,
        template=get_settings().video_url_template,
    )
    with tempfile.TemporaryDirectory(prefix="frames-") as frames_dir, input_errors_fail_the_step():
        shots = screenshots_for_steps(
            doc, input_storage.get().media_url(video.key), Path(frames_dir)
        )
        markdown = render_markdown(shots.document, transcript)
        images = {f"screenshots/{name}": data for name, data in shots.images.items()}
        files: dict[str, bytes] = dict(images)
        files["document.md"] = markdown.encode("utf-8")
        files["document.html"] = markdown_to_html(markdown, images, title=TITLE).encode("utf-8")
        files["document.docx"] = document_to_docx(shots.document, transcript, images)
        uris = output_storage.get().publish(context.partition_key, files)
    published = PublishedDocument(
        partition_key=context.partition_key,
        uris=uris,
        markdown=markdown,
        screenshots=sorted(shots.images),
        dropped_duplicate_frames=shots.dropped_at,
        cost_usd=draft.cost_usd,
        media_duration=video.media.duration_seconds,
        writer=draft.writer,
        truncated_stages=draft.unrecovered_truncations,
    )
    _track(
        context,
        tracking,
        video,
        document_uris=uris,
        cost_usd=draft.cost_usd,
        input_tokens=draft.input_tokens,
        output_tokens=draft.output_tokens,
    )
    context.add_output_metadata(
        {
            "document_md": dg.MetadataValue.path(published.markdown_uri),
            "document_html": dg.MetadataValue.path(uris["document.html"]),
            "document_docx": dg.MetadataValue.path(uris["document.docx"]),
            "screenshots": len(published.screenshots),
            "cost_usd": published.cost_usd,
            "media_duration_seconds": round(video.media.duration_seconds, 3),
            "run_seconds_so_far": round(_seconds_since_run_start(context), 3),
            "preview": dg.MetadataValue.md(markdown[:PREVIEW_CHARS]),
        }
    )
    return published
