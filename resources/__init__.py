"""Dagster resources: storage (the LTX_PIPELINES_HOME layout), base model, compute device, captioner, MLflow."""

from resources.base_model import BaseModelResource
from resources.captioner import CaptionerResource
from resources.compute import ComputeResource
from resources.io_manager import ManifestIOManager
from resources.mlflow import MlflowResource
from resources.storage import StorageResource

__all__ = [
    "BaseModelResource",
    "CaptionerResource",
    "ComputeResource",
    "ManifestIOManager",
    "MlflowResource",
    "StorageResource",
]
