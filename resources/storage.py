"""Where everything lives: the home folder and the dataset catalog."""

from pathlib import Path

import dagster as dg

from ltx_pipelines.catalog import dataset_folder
from ltx_pipelines.config import Recipe, load_recipe
from ltx_pipelines.home import Home


class StorageResource(dg.ConfigurableResource):
    """The ltx-pipelines home (default ``$LTX_PIPELINES_HOME`` or ``./.ltx``) and its datasets."""

    home: str | None = None

    def get_home(self) -> Home:
        return Home.from_env(self.home).ensure()

    def dataset_folder(self, partition_key: str) -> Path:
        """The folder a dataset partition stands for."""
        return dataset_folder(self.get_home(), partition_key)

    def recipe(self, partition_key: str) -> Recipe:
        """The dataset's recipe (its ``ltx.yaml``, or the defaults)."""
        return load_recipe(self.dataset_folder(partition_key))
