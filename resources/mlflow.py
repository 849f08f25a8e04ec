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
    ui_url: str | None = None  # e.g. http://localhost:5000, for links in Dagster metadata

    def client(self, home: Home) -> RegistryClient:
        tracking = self.tracking_uri or home.mlflow_tracking_uri
        artifacts = self.artifact_location or (None if self.tracking_uri else home.mlflow_artifacts.as_uri())
        return RegistryClient(tracking, self.registry_uri, self.experiment, artifacts)
