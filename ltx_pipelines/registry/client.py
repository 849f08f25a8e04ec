"""The MLflow model registry as ltx-pipelines uses it: one version per lineage key, aliases ``candidate`` and
``champion``, promotion with a recorded decision, rollback, and lookups by ``NAME@ALIAS``.

Every call goes through :meth:`RegistryClient.call`, which retries transient failures (connection refused,
5xx) with exponential backoff and then raises :class:`RegistryError` naming the server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TypeVar

from ltx_pipelines.registry.lineage import TAG_PREFIX, Lineage

T = TypeVar("T")
LINEAGE_TAG = f"{TAG_PREFIX}key"
GENERATOR_TAG = f"{TAG_PREFIX}generator_uri"
CHAMPION = "champion"
CANDIDATE = "candidate"
CHAMPION_HISTORY_TAG = f"{TAG_PREFIX}champion_history"


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


LOGGER = logging.getLogger(__name__)
HTTP_RETRIES = "MLFLOW_HTTP_REQUEST_MAX_RETRIES"


class RegistryError(RuntimeError):
    """MLflow could not be reached or refused the request after the retries, or a lookup failed."""


class RegistryUnavailableError(RegistryError):
    """MLflow stayed unreachable (connection refused, timeouts, 5xx) through every retry: worth trying later."""


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

    # -- experiments and runs -----------------------------------------------------------------------------
    def experiment_id(self) -> str:
        """The experiment's id, created (with the configured artifact location) when missing."""
        existing = self.call(lambda: self.client.get_experiment_by_name(self.experiment))
        if existing is not None:
            return existing.experiment_id
        return self.call(
            lambda: self.client.create_experiment(self.experiment, artifact_location=self.artifact_location)
        )

    def runs_for(self, lineage_key: str) -> list:
        """Runs tagged with ``lineage_key``, any status."""
        query = f"tags.`{LINEAGE_TAG}` = '{lineage_key}'"
        return self.call(lambda: self.client.search_runs([self.experiment_id()], query, max_results=50))

    # -- versions -----------------------------------------------------------------------------------------
    def register(self, name: str, run_id: str, lineage: Lineage, alias: str = CANDIDATE) -> VersionInfo:
        """The model version for ``lineage.key`` under ``name``, created from the run's generator if missing.

        Idempotent: an existing version with the same lineage key is returned; if two registrations raced,
        the later duplicates are deleted and the lowest version is kept.
        """
        if existing := self.find_version(name, lineage.key):
            return existing
        self._ensure_registered_model(name)
        run = self.call(lambda: self.client.get_run(run_id))
        source = run.data.tags.get(GENERATOR_TAG)
        if not source:
            raise RegistryError(f"run {run_id} has no logged generator model (tag {GENERATOR_TAG})")
        tags = {**lineage.tags(), f"{TAG_PREFIX}mlflow_run_id": run_id}
        # The generator is a logged model (models:/<model id>); a tracking server accepts it as the source only
        # together with its id (the SQLite store does not check).
        model_id = source.removeprefix("models:/") if source.startswith("models:/") else None
        created = self.call(
            lambda: self.client.create_model_version(name, source, run_id=run_id, tags=tags, model_id=model_id)
        )
        self._wait_ready(name, created.version)
        kept = self._deduplicate(name, lineage.key)
        self.set_alias(name, alias, kept)
        info = self.get_version(name, kept)
        return replace(info, created=str(created.version) == kept)

    def find_version(self, name: str, lineage_key: str) -> VersionInfo | None:
        """The version of ``name`` tagged with ``lineage_key``, if one exists."""
        versions = self._versions_for(name, lineage_key)
        return self.get_version(name, versions[0]) if versions else None

    def get_version(self, name: str, version: str | int) -> VersionInfo:
        """One version with its aliases, tags and its run's metrics."""
        return self._info(self.call(lambda: self.client.get_model_version(name, str(version))))

    def get_by_alias(self, name: str, alias: str) -> VersionInfo:
        """The version ``name@alias`` points at."""
        return self._info(self.call(lambda: self.client.get_model_version_by_alias(name, alias)))

    def alias_version(self, name: str, alias: str) -> str | None:
        """The version behind ``name@alias``, or None when the model or alias does not exist."""
        from mlflow.exceptions import MlflowException

        try:
            return str(self.call(lambda: self.client.get_model_version_by_alias(name, alias)).version)
        except MlflowException:
            return None

    def resolve(self, reference: str) -> VersionInfo:
        """``NAME@ALIAS``, ``NAME/VERSION`` or ``models:/...`` of either, to a version."""
        name, selector = split_reference(reference)
        return self.get_by_alias(name, selector[1:]) if selector.startswith("@") else self.get_version(name, selector)

    def list_models(self) -> list[dict]:
        """Every registered model with its versions (newest first) and aliases."""
        models = []
        for model in self.call(lambda: self.client.search_registered_models()):
            versions = self.call(lambda m=model: self.client.search_model_versions(f"name = '{m.name}'"))
            infos = [self.get_version(model.name, v.version) for v in sorted(versions, key=lambda v: -int(v.version))]
            models.append(
                {"name": model.name, "aliases": dict(model.aliases or {}), "versions": [i.to_dict() for i in infos]}
            )
        return models

    # -- aliases, promotion, rollback ---------------------------------------------------------------------
    def set_alias(self, name: str, alias: str, version: str | int) -> None:
        """Point ``name@alias`` at ``version``."""
        self.call(lambda: self.client.set_registered_model_alias(name, alias, str(version)))

    def tag_version(self, name: str, version: str | int, tags: dict[str, str]) -> None:
        """Set tags on a version (decisions, numbers)."""
        for key, value in tags.items():
            self.call(lambda k=key, v=value: self.client.set_model_version_tag(name, str(version), k, str(v)))

    def champion_history(self, name: str) -> list[str]:
        """Versions that have been champion, oldest first (the last one is the current champion)."""
        model = self.call(lambda: self.client.get_registered_model(name))
        raw = (model.tags or {}).get(CHAMPION_HISTORY_TAG, "")
        return [v for v in raw.split(",") if v]

    def promote(self, name: str, version: str | int, reason: str) -> VersionInfo:
        """Make ``version`` the champion, record why on it, and remember the previous champion for rollback."""
        version = str(version)
        self.get_version(name, version)  # fails clearly for a version that does not exist
        history = self.champion_history(name)
        if not history or history[-1] != version:
            history.append(version)
        self.set_alias(name, CHAMPION, version)
        self.call(lambda: self.client.set_registered_model_tag(name, CHAMPION_HISTORY_TAG, ",".join(history)))
        self.tag_version(
            name, version, {f"{TAG_PREFIX}promotion.decision": "promoted", f"{TAG_PREFIX}promotion.reason": reason}
        )
        return self.get_version(name, version)

    def rollback(self, name: str) -> VersionInfo:
        """Move ``champion`` back to the version that held it before the current one."""
        history = self.champion_history(name)
        if len(history) < 2:
            raise RegistryError(f"{name} has no earlier champion to roll back to (history: {history or 'empty'})")
        demoted, previous = history[-1], history[-2]
        self.set_alias(name, CHAMPION, previous)
        self.call(lambda: self.client.set_registered_model_tag(name, CHAMPION_HISTORY_TAG, ",".join(history[:-1])))
        self.tag_version(
            name,
            demoted,
            {
                f"{TAG_PREFIX}promotion.decision": "rolled back",
                f"{TAG_PREFIX}promotion.reason": f"champion rolled back to v{previous}",
            },
        )
        return self.get_version(name, previous)

    # -- artifacts ----------------------------------------------------------------------------------------
    def pull(self, reference: str, destination: str | Path) -> Path:
        """Download a version's model (generator code, adapter, recipe) to ``destination``; returns the adapter
        folder inside it (the one holding ``ltx_adapter.json``, or a bare diffusers LoRA file)."""
        import mlflow

        info = self.resolve(reference)
        destination = Path(destination)
        marker = destination / ".complete"
        if not marker.exists():
            with self.active():
                self.call(lambda: mlflow.artifacts.download_artifacts(artifact_uri=info.uri, dst_path=str(destination)))
            marker.write_text(f"{info.name}/{info.version}\n")
        found = sorted(destination.rglob("ltx_adapter.json")) or sorted(
            destination.rglob("pytorch_lora_weights.safetensors")
        )
        if not found:
            raise RegistryError(f"{info.uri}: the downloaded model holds no adapter file")
        return found[0].parent

    def load_generator(self, reference: str):
        """``mlflow.pyfunc.load_model`` of a version: ``predict(["a prompt"])`` writes MP4s and returns their paths."""
        import mlflow

        info = self.resolve(reference)
        with self.active():
            return self.call(lambda: mlflow.pyfunc.load_model(info.uri))

    def active(self):
        """A context in which MLflow's module-level API (``mlflow.pyfunc``, ``mlflow.log_*``) uses this store."""
        return _global_uris(self.tracking_uri, self.registry_uri)

    # -- plumbing -----------------------------------------------------------------------------------------
    def call(self, action: Callable[[], T]) -> T:
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
                if not _transient(error):
                    raise
                if attempt > self.retries:
                    raise RegistryUnavailableError(
                        f"MLflow at {self.tracking_uri} unavailable after {attempt} attempts: {error}"
                    ) from error
                wait = self.backoff_seconds * 2 ** (attempt - 1)
                LOGGER.warning(
                    "MLflow at %s unavailable (%s); retry %d/%d in %.1fs",
                    self.tracking_uri,
                    str(error).splitlines()[0][:200] if str(error) else type(error).__name__,
                    attempt,
                    self.retries,
                    wait,
                )
                time.sleep(wait)

    def _versions_for(self, name: str, lineage_key: str) -> list[str]:
        query = f"name = '{name}' and tags.`{LINEAGE_TAG}` = '{lineage_key}'"
        versions = self.call(lambda: self.client.search_model_versions(query))
        return sorted((str(v.version) for v in versions), key=int)

    def _deduplicate(self, name: str, lineage_key: str) -> str:
        """Keep the lowest version for ``lineage_key``; delete any others a racing registration created."""
        versions = self._versions_for(name, lineage_key)
        for extra in versions[1:]:
            self.call(lambda v=extra: self.client.delete_model_version(name, v))
        return versions[0]

    def _info(self, mv) -> VersionInfo:
        run = self.call(lambda: self.client.get_run(mv.run_id)) if mv.run_id else None
        metrics = {
            k: v for k, v in (run.data.metrics if run else {}).items() if not k.startswith(("train/", "system/"))
        }
        return VersionInfo(
            name=mv.name,
            version=str(mv.version),
            aliases=sorted(mv.aliases or []),
            run_id=mv.run_id or "",
            source=mv.source,
            tags=dict(mv.tags or {}),
            metrics=metrics,
        )

    def _ensure_registered_model(self, name: str) -> None:
        from mlflow.exceptions import MlflowException

        try:
            self.call(lambda: self.client.get_registered_model(name))
        except MlflowException:
            self.call(
                lambda: self.client.create_registered_model(name, description="LTX LoRA adapters (ltx-pipelines)")
            )

    def _wait_ready(self, name: str, version: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.call(lambda: self.client.get_model_version(name, version)).status == "READY":
                return
            time.sleep(0.2)
        raise RegistryError(f"model version {name}/{version} did not become READY within {timeout:.0f}s")


def split_reference(reference: str) -> tuple[str, str]:
    """``models:/NAME@ALIAS`` → (NAME, "@ALIAS"); ``NAME/VERSION`` → (NAME, VERSION)."""
    reference = reference.removeprefix("models:/")
    if "@" in reference:
        name, alias = reference.split("@", 1)
        return name, f"@{alias}"
    if "/" in reference:
        return tuple(reference.rsplit("/", 1))  # type: ignore[return-value]
    raise ValueError(f"expected NAME@ALIAS or NAME/VERSION (optionally models:/...), got {reference!r}")


@contextlib.contextmanager
def _global_uris(tracking_uri: str, registry_uri: str) -> Iterator[None]:
    import mlflow
    from mlflow.tracking._model_registry import utils as registry_utils
    from mlflow.tracking._tracking_service import utils as tracking_utils

    # Save the explicitly set values (None when unset), not the defaults get_*_uri() reports, and the
    # MLFLOW_*_URI variables MLflow exports for subprocesses, so that everything is restored as it was.
    previous = (tracking_utils._tracking_uri, registry_utils._registry_uri)
    environment = {name: os.environ.get(name) for name in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", HTTP_RETRIES)}
    # RegistryClient.call does the retrying (with its own backoff); MLflow's HTTP layer retrying underneath it
    # (7 times, exponential backoff, by default) would turn one outage into many minutes per call.
    os.environ.setdefault(HTTP_RETRIES, "0")
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
        return error.get_http_status_code() >= 500 or any(
            marker in text for marker in ("Max retries exceeded", "Connection refused", "API request to")
        )
    return False
