"""Register adapters in the MLflow model registry and look them up, idempotently.

One MLflow run per trained adapter (found again by its lineage key, so retries never duplicate it), a pyfunc
model logged from code (nothing pickled) with the adapter and its recipe as artifacts, and one model version
per lineage key, with alias ``candidate``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TypeVar

from ltx_pipelines.registry.lineage import TAG_PREFIX, Lineage

T = TypeVar("T")
GENERATOR_MODEL_FILE = Path(__file__).with_name("generator_model.py")
LINEAGE_TAG = f"{TAG_PREFIX}key"
GENERATOR_TAG = f"{TAG_PREFIX}generator_uri"


@dataclass(frozen=True)
class VersionInfo:
    """A registered model version as a consumer sees it."""

    name: str
    version: str
    aliases: list[str]
    run_id: str
    source: str
    tags: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)
    created: bool = False

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    def to_dict(self) -> dict:
        return {**asdict(self), "uri": self.uri}


@dataclass(frozen=True)
class TrainingRecord:
    """What gets logged to the MLflow run of one trained adapter."""

    params: dict[str, str]
    losses: Sequence[float]
    metrics: dict[str, float]
    artifacts: dict[str, str]  # artifact sub-folder -> local file or folder
    adapter_dir: str
    recipe: dict


class RegistryError(RuntimeError):
    """MLflow could not be reached or refused the request after the retries."""


class RegistryClient:
    """MLflow tracking + registry at ``tracking_uri`` (``sqlite:///...`` or ``http://server``)."""

    def __init__(
        self,
        tracking_uri: str,
        registry_uri: str | None = None,
        experiment: str = "ltx-pipelines",
        artifact_location: str | None = None,
        retries: int = 4,
        backoff_seconds: float = 1.0,
    ):
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.experiment = experiment
        self.artifact_location = artifact_location
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=self.registry_uri)

    # -- tracking -----------------------------------------------------------------------------------------
    def experiment_id(self) -> str:
        """The experiment's id, created (with the configured artifact location) when missing."""
        existing = self._call(lambda: self.client.get_experiment_by_name(self.experiment))
        if existing is not None:
            return existing.experiment_id
        return self._call(
            lambda: self.client.create_experiment(self.experiment, artifact_location=self.artifact_location)
        )

    def find_run(self, lineage_key: str) -> str | None:
        """The id of the finished run already logged for ``lineage_key``, if any."""
        runs = self._call(
            lambda: self.client.search_runs(
                [self.experiment_id()],
                f"tags.`{LINEAGE_TAG}` = '{lineage_key}' and attributes.status = 'FINISHED'",
                max_results=1,
            )
        )
        return runs[0].info.run_id if runs else None

    def log_training(self, lineage: Lineage, record: TrainingRecord, run_name: str | None = None) -> str:
        """Log params, per-step losses, metrics, artifacts and the pyfunc generator; returns the run id.

        A finished run with the same lineage key is returned as is, so a retried registration logs nothing twice.
        """
        if existing := self.find_run(lineage.key):
            return existing
        from mlflow.entities import Metric, Param

        run = self._call(lambda: self.client.create_run(self.experiment_id(), tags=lineage.tags(), run_name=run_name))
        run_id = run.info.run_id
        now = int(time.time() * 1000)
        params = [Param(k, str(v)[:6000]) for k, v in sorted(record.params.items())]
        metrics = [Metric("train/loss", float(v), now, i + 1) for i, v in enumerate(record.losses)]
        metrics += [Metric(k, float(v), now, 0) for k, v in sorted(record.metrics.items())]
        for start in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
            self._call(lambda s=start: self.client.log_batch(run_id, params=params[s : s + 100]))
        for start in range(0, len(metrics), 1000):  # ... and 1000 metrics
            self._call(lambda s=start: self.client.log_batch(run_id, metrics=metrics[s : s + 1000]))
        for folder, path in record.artifacts.items():
            local = Path(path)
            log = self.client.log_artifacts if local.is_dir() else self.client.log_artifact
            self._call(lambda log=log, local=local, folder=folder: log(run_id, str(local), folder))
        self._log_generator(run_id, record)
        self._call(lambda: self.client.set_terminated(run_id, "FINISHED"))
        return run_id

    def _log_generator(self, run_id: str, record: TrainingRecord) -> None:
        import tempfile

        import mlflow

        with tempfile.TemporaryDirectory() as tmp:
            recipe = Path(tmp) / "recipe.json"
            recipe.write_text(json.dumps(record.recipe, indent=2, sort_keys=True))
            with _global_uris(self.tracking_uri, self.registry_uri), mlflow.start_run(run_id=run_id):
                info = self._call(
                    lambda: mlflow.pyfunc.log_model(
                        name="generator",
                        python_model=str(GENERATOR_MODEL_FILE),
                        artifacts={"adapter": record.adapter_dir, "recipe": str(recipe)},
                        pip_requirements=["ltx-pipelines"],
                    )
                )
        self._call(lambda: self.client.set_tag(run_id, GENERATOR_TAG, info.model_uri))

    # -- registry -----------------------------------------------------------------------------------------
    def register(self, name: str, run_id: str, lineage: Lineage, alias: str = "candidate") -> VersionInfo:
        """The model version for ``lineage.key`` under ``name``, created from the run's generator if missing."""
        if existing := self.find_version(name, lineage.key):
            return existing
        self._ensure_registered_model(name)
        source = self._generator_uri(run_id)
        tags = {**lineage.tags(), f"{TAG_PREFIX}mlflow_run_id": run_id}
        # The generator is a logged model (models:/<model id>); a tracking server accepts it as the source only
        # with its id (the SQLite store does not check).
        model_id = source.removeprefix("models:/") if source.startswith("models:/") else None
        version = self._call(
            lambda: self.client.create_model_version(name, source, run_id=run_id, tags=tags, model_id=model_id)
        )
        self._wait_ready(name, version.version)
        self._call(lambda: self.client.set_registered_model_alias(name, alias, version.version))
        info = self.get_version(name, version.version)
        return VersionInfo(**{**asdict(info), "created": True})

    def find_version(self, name: str, lineage_key: str) -> VersionInfo | None:
        """The version of ``name`` tagged with ``lineage_key``, if one exists."""
        versions = self._call(
            lambda: self.client.search_model_versions(f"name = '{name}' and tags.`{LINEAGE_TAG}` = '{lineage_key}'")
        )
        if not versions:
            return None
        return self.get_version(name, min(versions, key=lambda v: int(v.version)).version)

    def get_version(self, name: str, version: str | int) -> VersionInfo:
        """One version with its aliases, tags and its run's metrics."""
        mv = self._call(lambda: self.client.get_model_version(name, str(version)))
        return self._info(mv)

    def get_by_alias(self, name: str, alias: str) -> VersionInfo:
        """The version ``name@alias`` points at."""
        mv = self._call(lambda: self.client.get_model_version_by_alias(name, alias))
        return self._info(mv)

    def resolve(self, reference: str) -> VersionInfo:
        """``NAME@ALIAS``, ``NAME/VERSION`` or ``models:/...`` of either, to a version."""
        reference = reference.removeprefix("models:/")
        if "@" in reference:
            name, alias = reference.split("@", 1)
            return self.get_by_alias(name, alias)
        if "/" in reference:
            name, version = reference.rsplit("/", 1)
            return self.get_version(name, version)
        raise ValueError(f"expected NAME@ALIAS or NAME/VERSION, got {reference!r}")

    def list_models(self) -> list[dict]:
        """Every registered model with its versions (newest first) and aliases."""
        models = []
        for model in self._call(lambda: self.client.search_registered_models()):
            versions = self._call(lambda m=model: self.client.search_model_versions(f"name = '{m.name}'"))
            infos = [self.get_version(model.name, v.version) for v in sorted(versions, key=lambda v: -int(v.version))]
            models.append(
                {
                    "name": model.name,
                    "aliases": dict(model.aliases or {}),
                    "versions": [i.to_dict() for i in infos],
                }
            )
        return models

    def set_alias(self, name: str, alias: str, version: str | int) -> None:
        """Point ``name@alias`` at ``version``."""
        self._call(lambda: self.client.set_registered_model_alias(name, alias, str(version)))

    # -- helpers ------------------------------------------------------------------------------------------
    def _info(self, mv) -> VersionInfo:
        run = self._call(lambda: self.client.get_run(mv.run_id)) if mv.run_id else None
        metrics = dict(run.data.metrics) if run else {}
        return VersionInfo(
            name=mv.name,
            version=str(mv.version),
            aliases=sorted(mv.aliases or []),
            run_id=mv.run_id or "",
            source=mv.source,
            tags=dict(mv.tags or {}),
            metrics={k: v for k, v in metrics.items() if k != "train/loss"},
        )

    def _generator_uri(self, run_id: str) -> str:
        run = self._call(lambda: self.client.get_run(run_id))
        uri = run.data.tags.get(GENERATOR_TAG)
        if not uri:
            raise RegistryError(f"run {run_id} has no logged generator model (tag {GENERATOR_TAG})")
        return uri

    def _ensure_registered_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self._call(lambda: self.client.get_registered_model(name))
        except MlflowException:
            self._call(
                lambda: self.client.create_registered_model(name, description="LTX LoRA adapters (ltx-pipelines)")
            )

    def _wait_ready(self, name: str, version: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self._call(lambda: self.client.get_model_version(name, version)).status
            if status == "READY":
                return
            time.sleep(0.2)
        raise RegistryError(f"model version {name}/{version} did not become READY within {timeout:.0f}s")

    def _call(self, action: Callable[[], T]) -> T:
        """Run ``action``, retrying transient failures (connection errors, 5xx) with exponential backoff."""
        attempt = 0
        while True:
            try:
                # MLflow's stores call back into the fluent API (e.g. the registry looks up logged models
                # through a default MlflowClient), so the global URIs must be ours during every call.
                with _global_uris(self.tracking_uri, self.registry_uri):
                    return action()
            except Exception as error:
                attempt += 1
                if not _transient(error) or attempt > self.retries:
                    if _transient(error):
                        raise RegistryError(
                            f"MLflow at {self.tracking_uri} unavailable after {attempt} attempts: {error}"
                        ) from error
                    raise
                time.sleep(self.backoff_seconds * 2 ** (attempt - 1))


@contextlib.contextmanager
def _global_uris(tracking_uri: str, registry_uri: str) -> Iterator[None]:
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    # Save the explicitly set values (None when unset), not the defaults get_*_uri() reports, and the
    # MLFLOW_*_URI variables MLflow exports for subprocesses, so that everything is restored as it was.
    previous = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    environment = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(registry_uri)
    try:
        yield
    finally:
        tracking_utils._tracking_uri, registry_utils._registry_uri = previous
        for name, value in environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _transient(error: Exception) -> bool:
    from mlflow.exceptions import MlflowException

    if isinstance(error, (ConnectionError, TimeoutError)):
        return True
    if isinstance(error, MlflowException):
        text = str(error)
        return error.get_http_status_code() >= 500 or "Max retries exceeded" in text or "Connection refused" in text
    return False
