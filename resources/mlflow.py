"""MLflow tracking and registry: the embedded SQLite store by default, a tracking server in production."""

import os

import dagster as dg

from ltx_pipelines.home import Home
from ltx_pipelines.locks import folder_lock
from ltx_pipelines.registry import RegistryClient


class MlflowResource(dg.ConfigurableResource):
    """``tracking_uri`` defaults to ``$MLFLOW_TRACKING_URI`` (a tracking server, docs/deploy.md), else to
    ``sqlite:///<home>/mlflow.db`` with artifacts in ``<home>/mlartifacts``."""

    tracking_uri: str | None = None
    registry_uri: str | None = None
    experiment: str = "ltx-pipelines"
    artifact_location: str | None = None
    ui_url: str | None = None  # default: the tracking server, or `mlflow ui`'s http://127.0.0.1:5000

    def client(self, home: Home) -> RegistryClient:
        server = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI")
        tracking = server or home.mlflow_tracking_uri
        # A server chooses the artifact store (its --default-artifact-root / --artifacts-destination).
        artifacts = self.artifact_location or (None if server else home.mlflow_artifacts.as_uri())
        client = RegistryClient(tracking, self.registry_uri, self.experiment, artifacts)
        if not server:  # the embedded SQLite store: the first use creates its tables, one process at a time
            with folder_lock(home.root / "locks" / "mlflow-db"):
                client.experiment_id()
        return client

    def base_url(self) -> str:
        """Where a person opens the MLflow UI for this store."""
        if self.ui_url:
            return self.ui_url.rstrip("/")
        server = self.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or ""
        if server.startswith(("http://", "https://")):
            return server.rstrip("/")
        return "http://127.0.0.1:5000"

    def run_url(self, experiment_id: str, run_id: str, home: Home) -> str:
        return f"{self.base_url()}/#/experiments/{experiment_id}/runs/{run_id}"

    def version_url(self, name: str, version: str, home: Home) -> str:
        return f"{self.base_url()}/#/models/{name}/versions/{version}"
