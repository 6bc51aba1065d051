"""The Bedrock batch resource: the batch ledger, the job control plane, and whether batch is
available for a model at all (the backfill falls back to on-demand, saying why, when not)."""

from __future__ import annotations

import boto3
import dagster as dg
from pydantic import PrivateAttr

from techne_assets.adapters.batch_ledger import BatchLedger
from techne_assets.adapters.bedrock_batch import BedrockBatchJobs, batch_unavailable_reason
from techne_assets.adapters.storage import storage_from_uri
from techne_assets.core.pricing import ModelPrice
from techne_assets.defs.bedrock_resource import ModelPriceConfig
from techne_assets.settings import Settings, setting_default


class BedrockBatchResource(dg.ConfigurableResource):
    """Bedrock batch inference for the model of `model_id`, at its batch `price`."""

    profile: str = setting_default("profile")
    model_id: str = setting_default("bedrock_model_id")
    role_arn: str | None = setting_default("batch_role_arn")
    models: list[str] = setting_default("batch_models")
    min_records: int = setting_default("batch_min_records")
    timeout_hours: int = setting_default("batch_timeout_hours")
    max_partitions_per_run: int = setting_default("batch_max_partitions_per_run")
    poll_seconds: int = setting_default("batch_poll_seconds")
    max_unusable_share: float = setting_default("batch_max_unusable_share")
    price: ModelPriceConfig | None = None  # None: batch answers cannot be priced (unavailable)
    store_uri: str = setting_default("store_uri")
    scratch_uri: str = setting_default("scratch_uri")
    region: str | None = setting_default("aws_region")

    _ledger: BatchLedger | None = PrivateAttr(default=None)
    _jobs: BedrockBatchJobs | None = PrivateAttr(default=None)

    @classmethod
    def from_settings(cls, settings: Settings) -> BedrockBatchResource:
        price = settings.batch_price_or_none(settings.bedrock_model_id)  # None: `unavailable_reason` says so
        return cls(
            profile=settings.profile,
            model_id=settings.bedrock_model_id,
            role_arn=settings.batch_role_arn,
            models=settings.batch_models,
            min_records=settings.batch_min_records,
            timeout_hours=settings.batch_timeout_hours,
            max_partitions_per_run=settings.batch_max_partitions_per_run,
            poll_seconds=settings.batch_poll_seconds,
            max_unusable_share=settings.batch_max_unusable_share,
            price=ModelPriceConfig(**price.model_dump()) if price else None,
            store_uri=settings.store_uri,
            scratch_uri=settings.scratch_uri,
            region=settings.aws_region,
        )

    def batch_price(self) -> ModelPrice:
        if self.price is None:
            raise ValueError(f"no batch price for {self.model_id} (TECHNE_BATCH_PRICES / TECHNE_MODEL_PRICES)")
        return ModelPrice(**self.price.model_dump())

    def ledger(self) -> BatchLedger:
        if self._ledger is None:
            self._ledger = BatchLedger(
                storage_from_uri(self.store_uri, self.region),
                storage_from_uri(self.scratch_uri, self.region),
            )
        return self._ledger

    def jobs(self) -> BedrockBatchJobs:
        """The control plane, through one boto3 `bedrock` client per resource instance."""
        if self._jobs is None:
            self._jobs = BedrockBatchJobs(boto3.client("bedrock", region_name=self.region))
        return self._jobs

    def unavailable_reason(self, model_id: str | None = None) -> str | None:
        """Why a backfill of `model_id` (default: this resource's model) cannot go through
        batch, in one line; None when it can."""
        return batch_unavailable_reason(
            profile=self.profile, scratch_uri=self.scratch_uri, role_arn=self.role_arn,
            model_id=model_id or self.model_id, batch_models=self.models, priced=self.price is not None,
        )
