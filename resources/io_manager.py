"""Asset outputs are small JSON manifests (records pointing into the content-addressed cache)."""

import json
from pathlib import Path

import dagster as dg

from ltx_pipelines.atomic import write_json
from resources.storage import StorageResource


class ManifestIOManager(dg.ConfigurableIOManager):
    """Stores each asset partition's output as ``<home>/manifests/<asset>/<partition>.json`` (atomic writes)."""

    storage: dg.ResourceDependency[StorageResource]

    def _path(self, asset_key: dg.AssetKey, partition: str | None) -> Path:
        folder = self.storage.get_home().root / "manifests" / asset_key.to_python_identifier()
        return folder / f"{partition or '__all__'}.json"

    def handle_output(self, context: dg.OutputContext, obj: dict) -> None:
        write_json(self._path(context.asset_key, context.partition_key if context.has_partition_key else None), obj)

    def load_input(self, context: dg.InputContext) -> dict:
        partition = context.asset_partition_key if context.has_asset_partitions else None
        path = self._path(context.asset_key, partition)
        if not path.exists():
            raise FileNotFoundError(f"{path}: upstream asset {context.asset_key.to_user_string()} not materialized")
        return json.loads(path.read_text())
