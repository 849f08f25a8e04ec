"""The MLflow side: tracking runs, registering adapters with lineage, aliases, promotion and lookups.

Usable from a script::

    from ltx_pipelines.registry import RegistryClient
    registry = RegistryClient("sqlite:///.ltx/mlflow.db")
    champion = registry.resolve("ltx-lora-neon-shapes@champion")
    adapter_dir = registry.pull("ltx-lora-neon-shapes@champion", "adapters/neon")
"""

from ltx_pipelines.registry.client import (
    CANDIDATE,
    CHAMPION,
    RegistryClient,
    RegistryError,
    RegistryUnavailableError,
    VersionInfo,
)
from ltx_pipelines.registry.lineage import Lineage
from ltx_pipelines.registry.tracking import DatasetInput, TrainingRecord, log_training_run

__all__ = [
    "CANDIDATE",
    "CHAMPION",
    "DatasetInput",
    "Lineage",
    "RegistryClient",
    "RegistryError",
    "RegistryUnavailableError",
    "TrainingRecord",
    "VersionInfo",
    "log_training_run",
]
