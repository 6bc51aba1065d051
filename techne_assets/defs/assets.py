"""The per-video asset graph: video → transcript → draft → document → published_document.

`document` renders into the asset store; its blocking checks decide whether it may be handed
out; only then does `published_document` copy it to the output location. Asset bodies record
facts as metadata and observations; tracking and notifications are the run-status sensors'.
"""

import tempfile
from pathlib import Path

import dagster as dg

from techne_assets.adapters import media
from techne_assets.adapters.export import document_to_docx, document_to_html
from techne_assets.adapters.publishing import publish
from techne_assets.adapters.screenshots import screenshots_for_steps
from techne_assets.adapters.storage import video_source
from techne_assets.core.document import TITLE, render_markdown
from techne_assets.core.partition_keys import reference_of_run, storage_prefix
from techne_assets.core.publication import PublishedDocument, RenderedDocument, video_link
from techne_assets.core.transcript import Transcript
from techne_assets.core.video import VideoInfo
from techne_assets.core.writing.base import Draft
from techne_assets.core.writing.versioning import writer_code_version
from techne_assets.defs.batch_resource import BedrockBatchResource
from techne_assets.defs.bedrock_resource import BedrockResource
from techne_assets.defs.draft_passes import batch_pass, draft_metadata, write_range
from techne_assets.defs.errors import input_errors_fail_the_step
from techne_assets.defs.io_manager import by_partition
from techne_assets.defs.partitions import videos_partitions
from techne_assets.defs.resources import (
    PublicationResource,
    StorageResource,
    TranscriberResource,
    WriterResource,
)
from techne_assets.defs.run_tags import BATCH_GROUP_TAG
from techne_assets.settings import get_settings

OWNERS = ["team:techne-ops"]
GROUP = "call_documents"
PREVIEW_CHARS = 6000

# Read once at import: what the UI shows as kinds and the writer's code version.
_SETTINGS = get_settings()
WRITER_CODE_VERSION = writer_code_version(_SETTINGS.writer, _SETTINGS.bedrock_model_id)


def _media_url(video: VideoInfo, input_storage: StorageResource) -> str:
    """Where ffmpeg reads the video: its input key, or its own location (outside the input)."""
    source, key = video_source(video.key, input_storage.get())
    return source.media_url(key)


@dg.asset(
    partitions_def=videos_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"ffmpeg", "s3" if _SETTINGS.profile == "aws" else "file"},
    code_version="1",
    tags={"pipeline_stage": "source"},
    description="The source recording: where it is, its size and content tag, and what ffprobe "
    "sees in it (duration, codecs, audio streams, creation time). Never modified.",
)
def video(
    context: dg.AssetExecutionContext,
    input_storage: StorageResource,
) -> VideoInfo:
    with input_errors_fail_the_step():
        # The partition key (or, for a shortened one, the run's tag) names the video.
        reference = reference_of_run(context.partition_key, context.run.tags)
        source, key = video_source(reference, input_storage.get())
        # A local file's content hash lets the sensor recognize the same video copied again.
        stored = source.stat(key, with_hash=not source.root_uri.startswith("s3://"))
        info = VideoInfo(
            partition_key=context.partition_key,
            key=reference,
            uri=source.uri(key),
            size_bytes=stored.size,
            etag=stored.etag,
            content_id=stored.content_id,
            last_modified=stored.last_modified.isoformat() if stored.last_modified else None,
            media=media.probe(source.media_url(key), name=source.uri(key)),
        )
    call_date, call_date_source = info.call_date()
    context.add_output_metadata(
        {
            "source_key": reference,
            "uri": dg.MetadataValue.path(info.uri),
            "size_bytes": info.size_bytes,
            "etag": info.etag,
            "content_id": info.content_id,
            "duration_seconds": round(info.media.duration_seconds, 3),
            "video_codec": info.media.video_codec or "none",
            "audio_streams": len(info.media.audio_streams),
            "call_date": call_date or "unknown",
            "call_date_source": call_date_source or "none",
        }
    )
    return info


@dg.asset(
    partitions_def=videos_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={
        {"transcribe": "transcribe", "whisper": "whisper"}.get(_SETTINGS.transcriber, "captions")
    },
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
) -> Transcript:
    with input_errors_fail_the_step():
        # Local speech recognition of a long call takes a while: its progress goes to the run log.
        result = transcriber.get(progress=context.log.info).transcribe(
            video,
            _media_url(video, input_storage),
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
            "speech_model": str(result.metadata.get("model", "none")),
        }
    )
    return result


@dg.asset(
    partitions_def=videos_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"bedrock" if _SETTINGS.writer == "bedrock" else "python"},
    code_version=WRITER_CODE_VERSION,
    tags={"pipeline_stage": "writing"},
    pool="bedrock",
    # A backfill writes up to this many videos per run; a batch pass writes its ranges this way.
    backfill_policy=dg.BackfillPolicy.multi_run(max_partitions_per_run=_SETTINGS.batch_max_partitions_per_run),
    ins={
        "video": dg.AssetIn(dagster_type=by_partition(VideoInfo)),
        "transcript": dg.AssetIn(dagster_type=by_partition(Transcript)),
    },
    # A batch pass that defers or fails a video of its range materializes nothing.
    output_required=False,
    description="The writer's intermediate artifacts: per-chunk notes, outline, section texts and "
    "the usage and cost of every model call, plus the document model they compose.",
)
def draft(
    context: dg.AssetExecutionContext,
    video: VideoInfo | dict[str, VideoInfo],
    transcript: Transcript | dict[str, Transcript],
    writer: WriterResource,
    bedrock: BedrockResource,
    bedrock_batch: BedrockBatchResource,
):
    # One partition, or a range (the backfill policy): inputs and output are then dicts by key.
    keys = context.partition_keys
    if len(keys) == 1:
        video, transcript = {keys[0]: video}, {keys[0]: transcript}
    if BATCH_GROUP_TAG in context.run.tags:
        drafts = yield from batch_pass(context, video, transcript, writer, bedrock, bedrock_batch)
        if drafts is None:
            return  # a video of the range deferred or failed: this pass materializes nothing
    else:
        drafts = yield from write_range(context, video, transcript, writer, bedrock)
    if len(keys) == 1:
        yield dg.Output(drafts[keys[0]], metadata=draft_metadata(drafts[keys[0]]))
        return
    for key, result in drafts.items():
        context.add_asset_metadata(draft_metadata(result), partition_key=key)
    yield dg.Output(drafts)


@dg.asset(
    partitions_def=videos_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"markdown", "html", "docx"},
    code_version=WRITER_CODE_VERSION,
    tags={"pipeline_stage": "rendering"},
    description=f"The '{TITLE}' in Markdown, HTML and DOCX, with real frames from the video beside "
    "the steps shown on screen, rendered into the asset store; checked before it is published.",
)
def document(
    context: dg.AssetExecutionContext,
    video: VideoInfo,
    transcript: Transcript,
    draft: Draft,
    input_storage: StorageResource,
    output_storage: StorageResource,
    asset_store: StorageResource,
    publication: PublicationResource,
) -> RenderedDocument:
    doc = draft.document.model_copy(deep=True)
    call_date, call_date_source = video.call_date()
    doc.header.call_date = call_date
    doc.header.call_date_source = call_date_source
    doc.header.video_url = video_link(
        video_key=video.key,
        partition_key=context.partition_key,
        input_uri=input_storage.uri,
        output_uri=output_storage.uri,
        template=publication.video_url_template,
    )
    with tempfile.TemporaryDirectory(prefix="frames-") as frames_dir, input_errors_fail_the_step():
        shots = screenshots_for_steps(
            doc,
            _media_url(video, input_storage),
            Path(frames_dir),
            has_video=video.media.video_codec is not None,
        )
        markdown = render_markdown(shots.document, transcript)
        images = {f"screenshots/{name}": data for name, data in shots.images.items()}
        files: dict[str, bytes] = dict(images)
        files["document.md"] = markdown.encode("utf-8")
        files["document.html"] = document_to_html(
            shots.document, transcript, images, title=TITLE
        ).encode("utf-8")
        files["document.docx"] = document_to_docx(shots.document, transcript, images)
        # One folder per run: a re-run never overwrites the version an earlier run checked.
        store = asset_store.get()
        folder = f"rendered/{storage_prefix(context.partition_key)}/{context.run.run_id}"
        for name, data in files.items():
            store.write_bytes(f"{folder}/{name}", data)
    rendered = RenderedDocument(
        partition_key=context.partition_key,
        files={name: f"{folder}/{name}" for name in files},
        markdown=markdown,
        screenshots=sorted(shots.images),
        dropped_duplicate_frames=shots.dropped_at,
        cost_usd=draft.cost_usd,
        media_duration=video.media.duration_seconds,
        writer=draft.writer,
        truncated_stages=draft.unrecovered_truncations,
    )
    context.add_output_metadata(
        {
            "rendered_at": dg.MetadataValue.path(store.uri(folder)),
            "screenshots": len(rendered.screenshots),
            "cost_usd": rendered.cost_usd,
            "call_date": call_date or "unknown",
            "call_date_source": call_date_source or "none",
            "media_duration_seconds": round(video.media.duration_seconds, 3),
            "audio_only": shots.document.header.audio_only,
            "key_frames": sum(1 for topic in shots.document.topics if topic.key_frame),
            "frame_warnings": shots.warnings,
            "preview": dg.MetadataValue.md(markdown[:PREVIEW_CHARS]),
        }
    )
    return rendered


@dg.asset(
    partitions_def=videos_partitions,
    group_name=GROUP,
    owners=OWNERS,
    kinds={"s3" if _SETTINGS.profile == "aws" else "file"},
    code_version="1",
    tags={"pipeline_stage": "publication"},
    description="The checked document, published under the video's partition in the output "
    "storage. Runs only when every blocking check of `document` passed.",
)
def published_document(
    context: dg.AssetExecutionContext,
    document: RenderedDocument,
    asset_store: StorageResource,
    output_storage: StorageResource,
    publication: PublicationResource,
) -> PublishedDocument:
    store = asset_store.get()
    files = {name: store.read_bytes(key) for name, key in document.files.items()}
    with input_errors_fail_the_step():
        uris = publish(
            output_storage.get(),
            storage_prefix(context.partition_key),
            files,
            versions_kept=publication.versions_kept,
        )
    published = PublishedDocument(
        partition_key=document.partition_key,
        uris=uris,
        markdown=document.markdown,
        screenshots=document.screenshots,
        dropped_duplicate_frames=document.dropped_duplicate_frames,
        cost_usd=document.cost_usd,
        media_duration=document.media_duration,
        writer=document.writer,
        truncated_stages=document.truncated_stages,
    )
    context.add_output_metadata(
        {
            "document_md": dg.MetadataValue.path(published.markdown_uri),
            "document_html": dg.MetadataValue.path(uris["document.html"]),
            "document_docx": dg.MetadataValue.path(uris["document.docx"]),
            "document_uris": uris,
        }
    )
    return published
