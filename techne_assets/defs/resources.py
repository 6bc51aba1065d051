"""ConfigurableResources built from Settings: each hands the assets one adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import dagster as dg

from techne_assets.adapters.notify import Notifier, notifier_from_settings
from techne_assets.adapters.reply_cache import StorageReplyCache
from techne_assets.adapters.storage import Storage, storage_from_uri
from techne_assets.adapters.tracking import Tracker, tracker_from_settings
from techne_assets.adapters.transcription import (
    AmazonTranscribeTranscriber,
    CaptionTranscriber,
    Transcriber,
)
from techne_assets.core.writing.base import Writer
from techne_assets.core.writing.offline import OfflineWriter
from techne_assets.defs.bedrock_resource import BedrockResource
from techne_assets.defs.io_manager import PydanticJsonIOManager
from techne_assets.settings import Settings, get_settings


class StorageResource(dg.ConfigurableResource):
    """A folder or an s3://bucket/prefix/."""

    uri: str

    def get(self) -> Storage:
        return storage_from_uri(self.uri)


class TranscriberResource(dg.ConfigurableResource):
    kind: Literal["captions", "transcribe"]
    input_uri: str
    work_uri: str
    captions_path: str | None = None
    language: str = "pt-BR"
    identify_language: bool = False
    max_speakers: int = 10
    vocabulary: str | None = None
    timeout_seconds: int = 6 * 3600
    max_part_seconds: int = 4 * 3600

    def get(self) -> Transcriber:
        if self.kind == "captions":
            captions = Path(self.captions_path) if self.captions_path else None
            return CaptionTranscriber(storage_from_uri(self.input_uri), captions_path=captions)
        return AmazonTranscribeTranscriber(
            storage_from_uri(self.work_uri),
            language=self.language,
            identify_language=self.identify_language,
            max_speakers=self.max_speakers,
            vocabulary=self.vocabulary,
            timeout_seconds=self.timeout_seconds,
            max_part_seconds=self.max_part_seconds,
        )


class WriterResource(dg.ConfigurableResource):
    kind: Literal["offline", "bedrock"]
    work_uri: str
    chunk_max_tokens: int = 12_000
    chunk_overlap_tokens: int = 0
    max_output_tokens: int = 16_384

    def get(self, bedrock: BedrockResource) -> Writer:
        if self.kind == "offline":
            return OfflineWriter()
        from techne_assets.core.writing.staged import StagedModelWriter

        return StagedModelWriter(
            bedrock.get_client(),
            chunk_max_tokens=self.chunk_max_tokens,
            chunk_overlap_tokens=self.chunk_overlap_tokens,
            max_output_tokens=self.max_output_tokens,
            reply_cache=StorageReplyCache(storage_from_uri(self.work_uri)),
        )


class TrackingResource(dg.ConfigurableResource):
    profile: Literal["local", "aws"]
    state_dir: str
    tracking_table: str | None = None

    def get(self) -> Tracker:
        return tracker_from_settings(self._settings())

    def _settings(self) -> Settings:
        return Settings(profile=self.profile, state_dir=self.state_dir, tracking_table=self.tracking_table)


class NotifierResource(dg.ConfigurableResource):
    profile: Literal["local", "aws"]
    state_dir: str
    topic_arn: str | None = None
    ui_base_url: str = "http://localhost:3000"

    def get(self) -> Notifier:
        settings = Settings(profile=self.profile, state_dir=self.state_dir, notify_topic_arn=self.topic_arn)
        return notifier_from_settings(settings)

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_base_url.rstrip('/')}/runs/{run_id}"


class QualityResource(dg.ConfigurableResource):
    """Thresholds the asset checks apply."""

    per_video_budget_usd: float = 5.0
    min_coverage: float = 0.9
    min_words_per_minute: float = 40.0
    max_words_per_minute: float = 260.0


def build_resources(settings: Settings, *, captions_path: str | None = None) -> dict[str, object]:
    return {
        "io_manager": PydanticJsonIOManager(work_uri=settings.work_uri),
        "input_storage": StorageResource(uri=settings.input_uri),
        "output_storage": StorageResource(uri=settings.output_uri),
        "work_storage": StorageResource(uri=settings.work_uri),
        "transcriber": TranscriberResource(
            kind=settings.transcriber,
            input_uri=settings.input_uri,
            work_uri=settings.work_uri,
            captions_path=captions_path,
            language=settings.transcribe_language,
            identify_language=settings.transcribe_identify_language,
            max_speakers=settings.transcribe_max_speakers,
            vocabulary=settings.transcribe_vocabulary,
            timeout_seconds=settings.transcribe_timeout_seconds,
            max_part_seconds=settings.transcribe_max_part_seconds,
        ),
        "writer": WriterResource(
            kind=settings.writer,
            work_uri=settings.work_uri,
            chunk_max_tokens=settings.chunk_max_tokens,
            chunk_overlap_tokens=settings.chunk_overlap_tokens,
            max_output_tokens=settings.bedrock_max_output_tokens,
        ),
        "bedrock": BedrockResource.from_settings(settings),
        "tracking": TrackingResource(
            profile=settings.profile, state_dir=settings.state_dir, tracking_table=settings.tracking_table
        ),
        "notifier": NotifierResource(
            profile=settings.profile,
            state_dir=settings.state_dir,
            topic_arn=settings.notify_topic_arn,
            ui_base_url=settings.ui_base_url,
        ),
        "quality_rules": QualityResource(per_video_budget_usd=settings.per_video_budget_usd),
    }


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=build_resources(get_settings()))
