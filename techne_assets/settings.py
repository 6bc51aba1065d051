"""All configuration, read from `TECHNE_*` environment variables (and a `.env` file when present)."""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field, model_validator
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
    work_uri: str = "data/work"
    state_dir: str = Field(
        default="data/state", description="local profile: tracking SQLite, notifications log, limiter state"
    )

    transcriber: Literal["captions", "transcribe"] | None = Field(
        default=None, description="default: captions for local, transcribe for aws"
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

    # Amazon Bedrock
    bedrock_model_id: str = DEFAULT_MODEL_ID
    bedrock_requests_per_minute: int = Field(default=10, ge=1)
    bedrock_tokens_per_minute: int = Field(default=200_000, ge=1000)
    bedrock_output_burndown: float = Field(
        default=5.0, description="quota tokens charged per output token (5 for Claude 4-family)"
    )
    bedrock_max_output_tokens: int = Field(
        default=16_384, description="the largest maxTokens a stage may ask for (its retry after a cut-off)"
    )
    bedrock_state_table: str | None = Field(
        default=None, description="DynamoDB table holding the shared limiter/breaker state (aws)"
    )
    breaker_failure_threshold: int = 5
    breaker_timeout_seconds: int = 300
    model_prices: dict[str, ModelPrice] = Field(
        default_factory=lambda: {
            DEFAULT_MODEL_ID: _sonnet_price(),
            "anthropic.claude-sonnet-4-20250514-v1:0": _sonnet_price(),
            "us.anthropic.claude-sonnet-4-5-20250929-v1:0": _sonnet_price(),
        },
        description="JSON: model id → US$ per 1M tokens {input, output, cache_write, cache_read}",
    )

    # Chunking
    chunk_max_tokens: int = Field(default=12_000, ge=200)
    chunk_overlap_tokens: int = Field(default=0, ge=0)

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
    def _profile_defaults(self) -> "Settings":
        if self.transcriber is None:
            self.transcriber = "captions" if self.profile == "local" else "transcribe"
        if self.writer is None:
            self.writer = "offline" if self.profile == "local" else "bedrock"
        return self

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
