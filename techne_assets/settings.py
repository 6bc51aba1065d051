"""All configuration, read from `TECHNE_*` environment variables (and a `.env` file when present)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from techne_assets.core.pricing import ModelPrice


def _sonnet_price() -> ModelPrice:
    return ModelPrice(input=3.0, output=15.0, cache_write=3.75, cache_read=0.30)


DEFAULT_MODEL_ID = "us.anthropic.claude-sonnet-4-20250514-v1:0"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TECHNE_", env_file=".env", extra="ignore")

    profile: Literal["local", "aws"] = "local"
    environment: str = Field(default="local", description="dimension of the CloudWatch metrics (dev, prod)")

    # Where videos come from and documents go: a folder, or s3://bucket/prefix/.
    input_uri: str = "data/inbox"
    output_uri: str = "data/output"
    store_uri: str = Field(
        default="data/store",
        description="durable: asset values, model replies, anything a later run reads; never expired",
    )
    scratch_uri: str = Field(
        default="data/scratch",
        description="expendable: extracted audio, raw Transcribe output; expired on S3",
    )
    published_versions_kept: int = Field(
        default=3, ge=1, description="published versions of a document kept per partition"
    )
    max_caption_bytes: int = Field(
        default=200 * 1024 * 1024, ge=1, description="the largest caption file read"
    )
    state_dir: str = Field(
        default="data/state", description="local profile: tracking SQLite, notifications log, limiter state"
    )

    transcriber: Literal["auto", "captions", "transcribe", "whisper"] | None = Field(
        default=None,
        description="default: auto for local (captions beside the video, else Whisper when a "
        "model is configured), transcribe for aws",
    )
    writer: Literal["offline", "bedrock"] | None = Field(
        default=None, description="default: offline for local, bedrock for aws"
    )

    # Amazon Transcribe
    transcribe_language: str = "pt-BR"
    transcribe_identify_language: bool = False
    transcribe_max_speakers: int = Field(default=10, ge=2, le=30)
    transcribe_vocabulary: str | None = None
    transcribe_timeout_seconds: int = 6 * 3600
    transcribe_max_part_seconds: int = Field(default=4 * 3600, description="longer audio is split")

    # Local speech recognition (faster-whisper, the `whisper` extra)
    whisper_model: str | None = Field(
        default=None, description="a Whisper size name (small, large-v3, ...) or a CTranslate2 model folder"
    )
    whisper_device: Literal["auto", "cpu", "cuda"] = Field(
        default="auto", description="auto: the GPU when there is one, else the CPU"
    )
    whisper_compute_type: str = Field(
        default="default", description="CTranslate2 compute type; default: int8 on CPU, float16 on GPU"
    )
    whisper_threads: int = Field(default=0, ge=0, description="CPU threads; 0: one per core")
    whisper_language: str = Field(default="pt", description="spoken language code; empty: detect it")
    whisper_cache_dir: str = Field(default="data/models", description="where size names are downloaded")
    whisper_download: bool = Field(
        default=True, description="download a size name missing from the cache folder (false: offline only)"
    )
    whisper_vad_filter: bool = Field(default=True, description="skip non-speech instead of transcribing it")

    # Amazon Bedrock
    bedrock_model_id: str = DEFAULT_MODEL_ID
    bedrock_requests_per_minute: int = Field(default=10, ge=1)
    bedrock_tokens_per_minute: int = Field(default=200_000, ge=1000)
    bedrock_output_burndown: float = Field(
        default=5.0, description="quota tokens charged per output token (5 for Claude 4-family)"
    )
    bedrock_max_output_tokens: int = Field(
        default=64_000,
        description="the largest maxTokens a stage may ask for: Claude Sonnet 4's output limit on Bedrock",
    )
    bedrock_state_table: str | None = Field(
        default=None, description="DynamoDB table holding the shared limiter/breaker state (aws)"
    )
    breaker_failure_threshold: int = 5
    breaker_timeout_seconds: int = 300
    quota_wait_max_seconds: int = Field(
        default=900, ge=0, description="total time a step waits for an exhausted Bedrock quota before failing"
    )
    model_prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: {
            DEFAULT_MODEL_ID: _sonnet_price(),
            "anthropic.claude-sonnet-4-20250514-v1:0": _sonnet_price(),
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0": _sonnet_price(),
        },
        description="JSON: model id → US$ per 1M tokens {input, output, cache_write, cache_read}",
    )

    # Amazon Bedrock batch inference (archive backfills: `techne backfill --via batch`)
    batch_role_arn: str | None = Field(
        default=None,
        description="the service role Bedrock assumes to read the batch input and write its output; "
        "unset: batch is unavailable and backfills go through on-demand",
    )
    batch_models: list[str] = Field(
        default_factory=lambda: [DEFAULT_MODEL_ID, "anthropic.claude-sonnet-4-20250514-v1:0"],
        description="model ids with batch inference in this region; another model falls back to on-demand",
    )
    batch_min_records: int = Field(
        default=100, ge=1, description="the model's minimum records per batch job; fewer go on-demand"
    )
    batch_max_partitions_per_run: int = Field(
        default=50, ge=1, description="videos one ranged `draft` run writes (its BackfillPolicy)"
    )
    batch_timeout_hours: int = Field(
        default=72, ge=24, le=168, description="how long Bedrock may take over one job before it expires"
    )
    batch_poll_seconds: int = Field(
        default=300, ge=1, description="how often the batch sensor looks at the open jobs"
    )
    batch_max_unusable_share: float = Field(
        default=0.5, gt=0, le=1,
        description="share of a job's records answered in error or without the forced tool call "
        "above which the rest of its group goes on-demand (each such record is paid twice)",
    )
    batch_prices: dict[str, ModelPrice] = Field(
        default_factory=dict,
        description="JSON: model id → US$ per 1M tokens in batch; a model missing here pays half "
        "its on-demand input and output price",
    )

    # Chunking
    chunk_max_tokens: int = Field(default=16_000, ge=200)
    chunk_overlap_tokens: int = Field(default=0, ge=0)

    # boto3 reads only AWS_DEFAULT_REGION; AWS_REGION (what ECS and Lambda set) counts as well.
    aws_region: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"),
        description="AWS region of the clients; unset: boto3's own configuration (profile)",
    )

    # Tracking and notifications
    tracking_table: str | None = Field(default=None, description="DynamoDB table (aws)")
    notify_topic_arn: str | None = None

    # Sensors
    video_extensions: list[str] = Field(
        default_factory=lambda: ["mp4", "mov", "mkv", "webm", "m4v", "avi", "flv"]
    )
    sensor_max_runs_per_tick: int = Field(default=25, ge=1)
    sensor_mode: Literal["list", "sqs"] = "list"
    sqs_queue_url: str | None = None

    # Checks and links
    per_video_budget_usd: float = 5.0
    ui_base_url: str = "http://localhost:3000"
    video_url_template: str | None = Field(
        default=None, description="where people open a video, e.g. https://videos.example/{key}"
    )

    @model_validator(mode="after")
    def _profile_defaults(self) -> Settings:
        if self.transcriber is None:
            self.transcriber = "auto" if self.profile == "local" else "transcribe"
        if self.writer is None:
            self.writer = "offline" if self.profile == "local" else "bedrock"
        return self

    def batch_price_for(self, model_id: str) -> ModelPrice:
        """The batch price: configured, else half the on-demand input and output price (batch
        requests carry no prompt-cache point, so the cache prices never apply)."""
        if model_id in self.batch_prices:
            return self.batch_prices[model_id]
        on_demand = self.price_for(model_id)
        return ModelPrice(
            input=on_demand.input / 2, output=on_demand.output / 2,
            cache_write=on_demand.input / 2, cache_read=on_demand.input / 2,
        )

    def batch_price_or_none(self, model_id: str) -> ModelPrice | None:
        """The batch price, or None for a model that has no price at all (batch is then unavailable)."""
        try:
            return self.batch_price_for(model_id)
        except KeyError:
            return None

    def price_for(self, model_id: str) -> ModelPrice:
        try:
            return self.model_prices[model_id]
        except KeyError:
            raise KeyError(
                f"no price configured for model {model_id!r}; set TECHNE_MODEL_PRICES"
            ) from None


@lru_cache
def get_settings() -> Settings:
    return Settings()


def setting_default(name: str) -> Any:
    """A setting's default, so resource fields and settings share one default."""
    return Settings.model_fields[name].get_default(call_default_factory=True)
