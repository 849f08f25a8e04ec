"""Lineage tags: what an adapter was trained from, by which code, in which orchestrator run."""

from __future__ import annotations

from dataclasses import asdict, dataclass

TAG_PREFIX = "ltx."


@dataclass(frozen=True)
class Lineage:
    """The facts that identify an adapter; ``key`` never yields two model versions."""

    key: str
    dataset: str
    dataset_version: str
    base_model: str
    base_model_revision: str
    code_version: str
    training_config_hash: str
    adapter_sha256: str
    dagster_run_id: str = ""

    def tags(self) -> dict[str, str]:
        """MLflow tags, each named ``ltx.<field>``."""
        return {f"{TAG_PREFIX}{k}": str(v) for k, v in asdict(self).items()}
