"""Materialize the whole graph for one dataset folder on the persistent Dagster instance.

The instance is ``$DAGSTER_HOME``'s when that is set (e.g. the Postgres tier, docs/deploy.md), else the embedded
SQLite one in LTX_PIPELINES_HOME. The steps run where the job's executor sends them (``LTX_EXECUTOR``): in this
process by default, or on Celery workers / Kubernetes Jobs.
"""

import os
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from ltx_pipelines.atomic import write_text
from ltx_pipelines.catalog import register_dataset
from ltx_pipelines.home import HOME_ENV, Home
from ltx_pipelines.locks import folder_lock
from resources.executors import LOCAL_EXECUTORS

INSTANCE_YAML = """\
# The embedded default instance: SQLite storage in this folder (docs/deploy.md has the Postgres tier).
# One GPU step (latents, lora_adapter, adapter_evaluation, champion_evaluation: the `gpu` pool) at a time, so two
# datasets retraining at once queue instead of running out of memory; `dagster dev`'s daemon frees the slot of a
# run that crashed or was cancelled.
concurrency:
  pools:
    default_limit: 1
    granularity: op
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 60
telemetry:
  enabled: false
"""


@dataclass
class AssetOutcome:
    """One asset's materialization in the run: its key and the metadata it reported."""

    asset: str
    metadata: dict[str, object] = field(default_factory=dict)


@dataclass
class RunOutcome:
    """A finished run: id, success, the partition, materialized assets and failed steps."""

    run_id: str
    success: bool
    partition: str
    materialized: list[AssetOutcome]
    failures: list[str]
    dagster_home: str
    sample_prompt: str = ""


def ensure_instance(home: Home) -> Path:
    """Create the embedded instance's folder and ``dagster.yaml`` (once); returns DAGSTER_HOME."""
    config = home.dagster_home / "dagster.yaml"
    if not config.exists():
        write_text(config, INSTANCE_YAML)
    return home.dagster_home


def open_instance(home: Home) -> dg.DagsterInstance:
    """The persistent Dagster instance: ``$DAGSTER_HOME``'s when set, else the embedded one of ``home``."""
    from dagster._core.instance.ref import InstanceRef

    if os.environ.get("DAGSTER_HOME"):
        return dg.DagsterInstance.get()
    # The first open creates the SQLite schema: two processes doing it at once would collide.
    with folder_lock(home.root / "locks" / "dagster-instance"):
        return dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(ensure_instance(home))))


def materialize_dataset(
    folder: str | Path,
    home: Home,
    key: str | None = None,
    run_config: dict | None = None,
    log_level: str = "INFO",
) -> RunOutcome:
    """Register ``folder`` as a dataset partition and run the ``full_pipeline`` job for it in process."""
    from definitions import defs

    os.environ[HOME_ENV] = str(home.root)  # the resources resolve the same home
    partition = register_dataset(home, folder, key)
    with open_instance(home) as instance:
        if not os.environ.get("DAGSTER_HOME"):  # the embedded instance has no daemon to watch runs
            reap_dead_runs(instance)
        if not instance.has_dynamic_partition("datasets", partition):
            instance.add_dynamic_partitions("datasets", [partition])
        job = defs.resolve_job_def("full_pipeline")
        config = {"loggers": {"console": {"config": {"log_level": log_level}}}, **(run_config or {})}
        if job.executor_def.name in LOCAL_EXECUTORS:
            result = job.execute_in_process(
                instance=instance, partition_key=partition, raise_on_error=False, run_config=config
            )
        else:  # steps leave this process: the executor reconstructs the job from the code location by name
            from dagster._core.definitions.reconstruct import ReconstructableRepository

            recon = ReconstructableRepository.for_module("definitions", "defs").get_reconstructable_job(job.name)
            result = dg.execute_job(
                recon, instance, run_config=config, tags={"dagster/partition": partition}, raise_on_error=False
            )
        materialized = [
            AssetOutcome(
                event.asset_key.to_user_string(),
                {k: _plain(v) for k, v in event.materialization.metadata.items()},
            )
            for event in result.get_asset_materialization_events()
        ]
        failures = [
            f"{event.step_key}: {_root_cause(event.event_specific_data.error)}"
            for event in result.all_events
            if event.is_step_failure
        ]
        return RunOutcome(
            result.run_id,
            result.success,
            partition,
            materialized,
            failures,
            instance.root_directory,
            _sample_prompt(home, partition),
        )


def reap_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Fail the runs whose process died (``kill -9``, OOM, power loss) and free the pool slots they held.

    The daemon's run monitoring does this on a deployed instance; ``materialize`` on the embedded instance runs
    without a daemon, and a killed run's ``gpu`` slot would otherwise make every later run wait forever. A run
    counts as dead when the process that wrote its events no longer exists on this machine."""
    reaped = []
    active = dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED])
    for run in instance.get_runs(filters=active):
        records = instance.get_records_for_run(run.run_id, limit=20, ascending=False).records
        events = [r.event_log_entry.dagster_event for r in records if r.event_log_entry.dagster_event]
        pid = next((event.pid for event in events if event.pid is not None), None)
        if pid is None or _alive(pid):
            continue
        instance.report_run_failed(run, f"the run's process ({pid}) is gone: it was killed or crashed")
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        reaped.append(run.run_id)
    return reaped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _root_cause(error) -> str:
    """The innermost error's message (Dagster wraps the asset's own exception in its step error)."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip()


def _plain(value: dg.MetadataValue) -> object:
    """A metadata value as plain Python (JSON-able): tables become lists of row dicts."""
    if isinstance(value, dg.TableMetadataValue):
        return [dict(record.data) for record in value.records]
    raw = value.value
    return raw if isinstance(raw, (str, int, float, bool, type(None), list, dict)) else str(raw)


def _sample_prompt(home: Home, partition: str) -> str:
    """A prompt to suggest: the recipe's first evaluation prompt, else the dataset's first caption."""
    import json

    from ltx_pipelines.catalog import dataset_folder
    from ltx_pipelines.config import load_recipe

    prompts = load_recipe(dataset_folder(home, partition)).evaluation.prompts
    if prompts:
        return prompts[0]
    captions = home.root / "manifests" / "captions" / f"{partition}.json"
    if captions.exists():
        records = json.loads(captions.read_text()).get("captions", [])
        return records[0]["text"] if records else ""
    return ""
