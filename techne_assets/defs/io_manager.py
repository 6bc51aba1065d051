"""Asset values are pydantic models kept as JSON in the durable asset store (a folder or S3).

A ranged run (the `draft` asset's backfill policy) hands over several partitions at once: its
output value is then `dict[partition key, model]`, stored one file per partition exactly as a
single-partition run stores it, and an input over several partitions is loaded as the same
dict. `by_partition(Model)` is the Dagster type of such an input: the model, or that dict.
"""

from __future__ import annotations

import json

import dagster as dg
from pydantic import BaseModel, PrivateAttr

from techne_assets.adapters.storage import Storage, storage_from_uri
from techne_assets.core.partition_keys import storage_prefix
from techne_assets.defs.errors import input_errors_fail_the_step


def by_partition(model: type[BaseModel]) -> dg.DagsterType:
    """`model` for one partition, `dict[partition key, model]` for a ranged run."""

    def check(_context, value) -> bool:
        if isinstance(value, dict):
            return all(isinstance(key, str) and isinstance(item, model) for key, item in value.items())
        return isinstance(value, model)

    return dg.DagsterType(
        type_check_fn=check,
        name=f"{model.__name__}ByPartition",
        typing_type=model,
        description=f"{model.__name__}, or for a ranged run a dict partition key → {model.__name__}",
    )


def _range_keys(context: dg.OutputContext | dg.InputContext) -> list[str] | None:
    """The partition keys of a ranged step (more than one), else None."""
    if not context.has_asset_partitions:
        return None
    keys = list(context.asset_partition_keys)
    return keys if len(keys) > 1 else None


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
    def _key(context: dg.OutputContext | dg.InputContext, partition_key: str | None = None) -> str:
        # On an InputContext, asset_key and asset_partition_key are the upstream asset's.
        asset = "/".join(context.asset_key.path)
        if context.has_asset_partitions:
            return f"assets/{asset}/{storage_prefix(partition_key or context.asset_partition_key)}.json"
        return f"assets/{asset}/_unpartitioned.json"

    def _write(self, key: str, obj: object, asset: str) -> None:
        if not isinstance(obj, BaseModel):
            raise TypeError(f"{asset} must return a pydantic model")
        # A refused or unreachable store fails the step with one line, not a wrapped traceback.
        with input_errors_fail_the_step():
            self._storage().write_bytes(
                key, obj.model_dump_json(indent=1).encode("utf-8"), content_type="application/json"
            )

    def handle_output(self, context: dg.OutputContext, obj: BaseModel | dict[str, BaseModel]) -> None:
        asset = context.asset_key.to_user_string()
        keys = _range_keys(context)
        if keys is None:
            key = self._key(context)
            self._write(key, obj, asset)
            context.add_output_metadata({"stored_at": dg.MetadataValue.path(self._storage().uri(key))})
            return
        if not isinstance(obj, dict) or set(obj) != set(keys):
            raise TypeError(f"{asset} over {len(keys)} partitions must return a dict with one model each")
        for partition_key in keys:
            self._write(self._key(context, partition_key), obj[partition_key], asset)
        folder = f"assets/{'/'.join(context.asset_key.path)}"
        context.add_output_metadata({"stored_under": dg.MetadataValue.path(self._storage().uri(folder))})

    def _read(self, context: dg.InputContext, key: str) -> BaseModel:
        model = context.dagster_type.typing_type
        with input_errors_fail_the_step():
            data = self._storage().read_bytes(key)
        if isinstance(model, type) and issubclass(model, BaseModel):
            return model.model_validate_json(data)
        return json.loads(data)

    def load_input(self, context: dg.InputContext) -> BaseModel | dict[str, BaseModel]:
        keys = _range_keys(context)
        if keys is None:
            return self._read(context, self._key(context))
        return {partition_key: self._read(context, self._key(context, partition_key)) for partition_key in keys}
