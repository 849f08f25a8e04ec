"""MLflow tracking and registry: the embedded SQLite store by default, a tracking server in production."""

import dagster as dg

from ltx_pipelines.home import Home
from ltx_pipelines.registry import RegistryClient


class MlflowResource(dg.ConfigurableResource):
    """``tracking_uri`` defaults to ``sqlite:///<home>/mlflow.db`` with artifacts in ``<home>/mlartifacts``."""

    tracking_uri: str | None = None
    registry_uri: str | None = None
    experiment: str = "ltx-pipelines"
    artifact_location: str | None = None
    ui_url: str | None = None  # default: the tracking server, or `mlflow ui`'s http://127.0.0.1:5000

    def client(self, home: Home) -> RegistryClient:
        tracking = self.tracking_uri or home.mlflow_tracking_uri
        artifacts = self.artifact_location or (None if self.tracking_uri else home.mlflow_artifacts.as_uri())
        return RegistryClient(tracking, self.registry_uri, self.experiment, artifacts)

    def base_url(self) -> str:
        """Where a person opens the MLflow UI for this store."""
        if self.ui_url:
            return self.ui_url.rstrip("/")
        if self.tracking_uri and self.tracking_uri.startswith(("http://", "https://")):
            return self.tracking_uri.rstrip("/")
        return "http://127.0.0.1:5000"

    def run_url(self, experiment_id: str, run_id: str, home: Home) -> str:
        return f"{self.base_url()}/#/experiments/{experiment_id}/runs/{run_id}"

    def version_url(self, name: str, version: str, home: Home) -> str:
        return f"{self.base_url()}/#/models/{name}/versions/{version}"
