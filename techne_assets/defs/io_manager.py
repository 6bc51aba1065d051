"""Asset values are pydantic models kept as JSON in the durable asset store (a folder or S3)."""

from __future__ import annotations

import json

import dagster as dg
from pydantic import BaseModel, PrivateAttr

from techne_assets.adapters.storage import Storage, storage_from_uri
from techne_assets.core.partition_keys import storage_prefix
from techne_assets.defs.errors import input_errors_fail_the_step


class PydanticJsonIOManager(dg.ConfigurableIOManager):
    """One JSON file per asset and partition: readable by people, reloadable by later steps."""

    store_uri: str
    aws_region: str | None = None

    _store: Storage | None = PrivateAttr(default=None)

    def _storage(self) -> Storage:
        # One storage (and one boto3 client) per process, not one per step.
        if self._store is None:
            self._store = storage_from_uri(self.store_uri, self.aws_region)
        return self._store

    @staticmethod
    def _key(context: dg.OutputContext | dg.InputContext) -> str:
        # On an InputContext, asset_key and asset_partition_key are the upstream asset's.
        asset = "/".join(context.asset_key.path)
        if context.has_asset_partitions:
            return f"assets/{asset}/{storage_prefix(context.asset_partition_key)}.json"
        return f"assets/{asset}/_unpartitioned.json"

    def handle_output(self, context: dg.OutputContext, obj: BaseModel) -> None:
        if not isinstance(obj, BaseModel):
            raise TypeError(f"{context.asset_key.to_user_string()} must return a pydantic model")
        key = self._key(context)
        # A refused or unreachable store fails the step with one line, not a wrapped traceback.
        with input_errors_fail_the_step():
            self._storage().write_bytes(
                key, obj.model_dump_json(indent=1).encode("utf-8"), content_type="application/json"
            )
        context.add_output_metadata({"stored_at": dg.MetadataValue.path(self._storage().uri(key))})

    def load_input(self, context: dg.InputContext) -> BaseModel:
        model = context.dagster_type.typing_type
        with input_errors_fail_the_step():
            data = self._storage().read_bytes(self._key(context))
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate_json(data)
        return json.loads(data)
