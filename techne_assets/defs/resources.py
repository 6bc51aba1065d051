"""ConfigurableResources built from Settings: each hands the assets one adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import dagster as dg
from pydantic import PrivateAttr

from techne_assets.adapters.notify import Notifier, notifier_for
from techne_assets.adapters.reply_cache import StorageReplyCache
from techne_assets.adapters.storage import Storage, storage_from_uri
from techne_assets.adapters.tracking import Tracker, tracker_for
from techne_assets.adapters.transcription import (
    AmazonTranscribeTranscriber,
    AutoTranscriber,
    CaptionTranscriber,
    Transcriber,
)
from techne_assets.adapters.whisper import ProgressReport, WhisperOptions, WhisperTranscriber
from techne_assets.core.writing.base import ModelClient, ReplyCache, Writer
from techne_assets.core.writing.factory import make_writer
from techne_assets.core.writing.observed import CallObserver
from techne_assets.defs.batch_resource import BedrockBatchResource
from techne_assets.defs.bedrock_resource import BedrockResource
from techne_assets.defs.io_manager import PydanticJsonIOManager
from techne_assets.settings import Settings, get_settings, setting_default


class StorageResource(dg.ConfigurableResource):
    """A folder or an s3://bucket/prefix/."""

    uri: str
    aws_region: str | None = setting_default("aws_region")

    _storage: Storage | None = PrivateAttr(default=None)

    def get(self) -> Storage:
        if self._storage is None:
            self._storage = storage_from_uri(self.uri, self.aws_region)
        return self._storage


class TranscriberResource(dg.ConfigurableResource):
    kind: Literal["auto", "captions", "transcribe", "whisper"]
    input_uri: str
    store_uri: str
    scratch_uri: str
    captions_path: str | None = None
    language: str = "pt-BR"
    identify_language: bool = False
    max_speakers: int = 10
    vocabulary: str | None = None
    timeout_seconds: int = 6 * 3600
    max_part_seconds: int = 4 * 3600
    whisper_model: str | None = None
    whisper_device: Literal["auto", "cpu", "cuda"] = "auto"
    whisper_compute_type: str = "default"
    whisper_threads: int = 0
    whisper_language: str = "pt"
    whisper_cache_dir: str | None = None
    whisper_download: bool = True
    whisper_vad_filter: bool = True
    aws_region: str | None = setting_default("aws_region")

    def get(self, progress: ProgressReport | None = None) -> Transcriber:
        """`progress` receives Whisper's progress lines (the asset routes them to its run log)."""
        if self.kind in ("captions", "auto"):
            captions = Path(self.captions_path) if self.captions_path else None
            caption_transcriber = CaptionTranscriber(
                storage_from_uri(self.input_uri, self.aws_region), captions_path=captions
            )
            if self.kind == "captions":
                return caption_transcriber
            whisper = self._whisper(progress) if self.whisper_model else None
            return AutoTranscriber(caption_transcriber, whisper)
        if self.kind == "whisper":
            return self._whisper(progress)
        return AmazonTranscribeTranscriber(
            storage_from_uri(self.scratch_uri, self.aws_region),
            language=self.language,
            identify_language=self.identify_language,
            max_speakers=self.max_speakers,
            vocabulary=self.vocabulary,
            timeout_seconds=self.timeout_seconds,
            max_part_seconds=self.max_part_seconds,
            region=self.aws_region,
        )

    def _whisper(self, progress: ProgressReport | None) -> WhisperTranscriber:
        options = WhisperOptions(
            model=self.whisper_model or "",
            device=self.whisper_device,
            compute_type=self.whisper_compute_type,
            threads=self.whisper_threads,
            language=self.whisper_language or None,
            cache_dir=self.whisper_cache_dir,
            download=self.whisper_download,
            vad_filter=self.whisper_vad_filter,
        )
        return WhisperTranscriber(
            storage_from_uri(self.store_uri, self.aws_region), options, progress=progress
        )


class WriterResource(dg.ConfigurableResource):
    """The one factory of writers: the pipeline, `techne eval` and the benchmarks build theirs here."""

    kind: Literal["offline", "bedrock"]
    store_uri: str = setting_default("store_uri")
    chunk_max_tokens: int = setting_default("chunk_max_tokens")
    chunk_overlap_tokens: int = setting_default("chunk_overlap_tokens")
    reuse_replies: bool = True
    aws_region: str | None = setting_default("aws_region")

    def get(self, bedrock: BedrockResource, on_call: CallObserver | None = None) -> Writer:
        """`on_call` hears the usage of every paid model call as soon as it returns."""
        return make_writer(
            self.kind,
            client=bedrock.get_client() if self.kind == "bedrock" else None,
            max_output_tokens=bedrock.max_output_tokens,
            chunk_max_tokens=self.chunk_max_tokens,
            chunk_overlap_tokens=self.chunk_overlap_tokens,
            reply_cache=self.reply_cache(),
            on_call=on_call,
            tokens_per_minute=bedrock.tokens_per_minute,
            output_burndown=bedrock.output_burndown,
        )

    def reply_cache(self) -> ReplyCache | None:
        """The shared reply cache in the asset store (None when replies are not reused)."""
        if not self.reuse_replies:
            return None
        return StorageReplyCache(storage_from_uri(self.store_uri, self.aws_region))

    def model_writer(
        self, client: ModelClient, *, bedrock: BedrockResource, reply_cache: ReplyCache | None
    ) -> Writer:
        """The model writer over another client (a batch pass), with the reply cache it needs;
        the client reports its own paid calls. Its chunks are those of `get` (sized against
        `bedrock`'s quota), so its requests and their cached replies are the same."""
        return make_writer(
            "bedrock",
            client=client,
            max_output_tokens=bedrock.max_output_tokens,
            chunk_max_tokens=self.chunk_max_tokens,
            chunk_overlap_tokens=self.chunk_overlap_tokens,
            reply_cache=reply_cache,
            tokens_per_minute=bedrock.tokens_per_minute,
            output_burndown=bedrock.output_burndown,
        )


def build_writer(
    settings: Settings, *, on_call: CallObserver | None = None, reuse_replies: bool = True
) -> Writer:
    """The writer `settings` configure, outside a Dagster run (`techne eval`)."""
    resources = build_resources(settings)
    writer = resources["writer"].model_copy(update={"reuse_replies": reuse_replies})
    return writer.get(resources["bedrock"], on_call)


class TrackingResource(dg.ConfigurableResource):
    """The tracking table (aws) or SQLite file (local); written only by the run-status sensors."""

    profile: Literal["local", "aws"] = setting_default("profile")
    state_dir: str = setting_default("state_dir")
    tracking_table: str | None = setting_default("tracking_table")
    aws_region: str | None = setting_default("aws_region")

    _tracker: Tracker | None = PrivateAttr(default=None)

    def get(self) -> Tracker:
        if self._tracker is None:
            self._tracker = tracker_for(
                self.profile, self.state_dir, self.tracking_table, self.aws_region
            )
        return self._tracker


class NotifierResource(dg.ConfigurableResource):
    """Where notifications go, and what they link to; used only by the run-status and check sensors."""

    profile: Literal["local", "aws"] = setting_default("profile")
    state_dir: str = setting_default("state_dir")
    topic_arn: str | None = setting_default("notify_topic_arn")
    ui_base_url: str = setting_default("ui_base_url")
    environment: str = setting_default("environment")
    aws_region: str | None = setting_default("aws_region")

    _notifier: Notifier | None = PrivateAttr(default=None)

    def get(self) -> Notifier:
        if self._notifier is None:
            self._notifier = notifier_for(
                self.profile, self.state_dir, self.topic_arn, self.aws_region
            )
        return self._notifier

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_base_url.rstrip('/')}/runs/{run_id}"


class PublicationResource(dg.ConfigurableResource):
    """How a published document links to its video, and how many published versions stay."""

    video_url_template: str | None = setting_default("video_url_template")
    versions_kept: int = setting_default("published_versions_kept")


class QualityResource(dg.ConfigurableResource):
    """Thresholds the asset checks apply."""

    per_video_budget_usd: float = 5.0
    min_coverage: float = 0.9
    # Captions may run a little past the last frame (a closing cue); more means other captions.
    overrun_tolerance_seconds: float = 5.0
    min_words_per_minute: float = 40.0
    max_words_per_minute: float = 260.0


def build_resources(settings: Settings, *, captions_path: str | None = None) -> dict[str, object]:
    region = settings.aws_region
    return {
        "io_manager": PydanticJsonIOManager(store_uri=settings.store_uri, aws_region=region),
        "input_storage": StorageResource(uri=settings.input_uri, aws_region=region),
        "output_storage": StorageResource(uri=settings.output_uri, aws_region=region),
        # Durable: the rendered documents wait here for their checks before publication.
        "asset_store": StorageResource(uri=settings.store_uri, aws_region=region),
        "transcriber": TranscriberResource(
            kind=settings.transcriber,
            input_uri=settings.input_uri,
            store_uri=settings.store_uri,
            scratch_uri=settings.scratch_uri,
            captions_path=captions_path,
            language=settings.transcribe_language,
            identify_language=settings.transcribe_identify_language,
            max_speakers=settings.transcribe_max_speakers,
            vocabulary=settings.transcribe_vocabulary,
            timeout_seconds=settings.transcribe_timeout_seconds,
            max_part_seconds=settings.transcribe_max_part_seconds,
            whisper_model=settings.whisper_model,
            whisper_device=settings.whisper_device,
            whisper_compute_type=settings.whisper_compute_type,
            whisper_threads=settings.whisper_threads,
            whisper_language=settings.whisper_language,
            whisper_cache_dir=settings.whisper_cache_dir,
            whisper_download=settings.whisper_download,
            whisper_vad_filter=settings.whisper_vad_filter,
            aws_region=region,
        ),
        "writer": WriterResource(
            kind=settings.writer,
            store_uri=settings.store_uri,
            chunk_max_tokens=settings.chunk_max_tokens,
            chunk_overlap_tokens=settings.chunk_overlap_tokens,
            aws_region=region,
        ),
        "bedrock": BedrockResource.from_settings(settings),
        "bedrock_batch": BedrockBatchResource.from_settings(settings),
        "tracking": TrackingResource(
            profile=settings.profile,
            state_dir=settings.state_dir,
            tracking_table=settings.tracking_table,
            aws_region=region,
        ),
        "notifier": NotifierResource(
            profile=settings.profile,
            state_dir=settings.state_dir,
            topic_arn=settings.notify_topic_arn,
            ui_base_url=settings.ui_base_url,
            environment=settings.environment,
            aws_region=region,
        ),
        "publication": PublicationResource(
            video_url_template=settings.video_url_template,
            versions_kept=settings.published_versions_kept,
        ),
        "quality_rules": QualityResource(per_video_budget_usd=settings.per_video_budget_usd),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources(get_settings()))
