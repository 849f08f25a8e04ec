"""The MLflow side: tracking runs, registering adapters with lineage, aliases and lookups.

Usable from a script: ``from ltx_pipelines.registry import RegistryClient``.
"""

from ltx_pipelines.registry.client import RegistryClient
from ltx_pipelines.registry.lineage import Lineage

__all__ = ["Lineage", "RegistryClient"]
