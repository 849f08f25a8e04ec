"""The on-disk layout under LTX_PIPELINES_HOME (default ``./.ltx``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "LTX_PIPELINES_HOME"
DEFAULT_HOME = ".ltx"


@dataclass(frozen=True)
class Home:
    """Paths of one ltx-pipelines home folder.

    ``dagster/`` is DAGSTER_HOME for the embedded instance, ``mlflow.db`` + ``mlartifacts/`` the MLflow
    store, ``models/`` base models built or downloaded, ``cache/<stage>/`` content-addressed per-clip
    outputs, ``runs/<run>/`` training runs, ``datasets.json`` the catalog of dataset partitions.
    """

    root: Path

    @classmethod
    def from_env(cls, root: str | os.PathLike[str] | None = None) -> Home:
        """The home at ``root``, else ``$LTX_PIPELINES_HOME``, else ``./.ltx`` (made absolute)."""
        chosen = root or os.environ.get(HOME_ENV) or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow.db"

    @property
    def mlflow_tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_db}"

    @property
    def mlflow_artifacts(self) -> Path:
        return self.root / "mlartifacts"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    @property
    def datasets_catalog(self) -> Path:
        return self.root / "datasets.json"

    def registered_copy(self, name: str, version: str) -> Path:
        """Where a registered model version is downloaded to (once) for evaluation."""
        return self.root / "registry" / name / version

    def cache(self, stage: str) -> Path:
        """The content-addressed cache folder of one pipeline stage."""
        return self.root / "cache" / stage

    def ensure(self) -> Home:
        """Create the top-level folders; returns self."""
        for path in (self.root, self.dagster_home, self.models, self.runs, self.mlflow_artifacts):
            path.mkdir(parents=True, exist_ok=True)
        return self
