"""The Postgres tier for real: the whole graph on a Postgres-backed Dagster instance (deploy/dagster.yaml), its steps
fanned out by the Celery executor over the local Redis to two worker processes (a CPU worker on the default queue,
a GPU worker on the ``gpu`` queue), registering the adapter in an ``mlflow server`` (deploy/mlflow-server.sh) whose
backend store is PostgreSQL. Skips only when PostgreSQL or Redis is not reachable."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.instance.ref import InstanceRef

from definitions import defs
from ltx_pipelines.cli import ASSET_ORDER
from ltx_pipelines.registry import RegistryClient
from resources.executors import GPU_QUEUE
from tests.services import (
    Service,
    free_port,
    fresh_database,
    private_redis_db,
    query,
    require_postgres,
)

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
GPU_STEPS = {"latents", "lora_adapter", "adapter_evaluation"}
# Every step of the job: the assets and their checks (each check runs as a step of its own).
JOB_STEPS = {node.name for node in defs.resolve_job_def("full_pipeline").graph.node_defs}


@pytest.fixture
def tier(tmp_path: Path, home) -> Iterator[dict[str, str]]:
    """Two fresh Postgres databases (Dagster, MLflow) and a private Redis database: the tier's environment."""
    admin = require_postgres()
    with (
        private_redis_db() as redis_url,
        fresh_database(admin, "ltx_it_dagster") as dagster_db,
        fresh_database(admin, "ltx_it_mlflow") as mlflow_db,
    ):
        dagster_home = tmp_path / "dagster-home"
        dagster_home.mkdir()
        shutil.copy(REPO / "deploy" / "dagster.yaml", dagster_home / "dagster.yaml")
        port = free_port()
        env = {
            **os.environ,
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "DAGSTER_HOME": str(dagster_home),
            "DAGSTER_PG_URL": dagster_db,
            "LTX_EXECUTOR": "celery",
            "LTX_CELERY_BROKER": redis_url,
            "LTX_CELERY_BACKEND": redis_url,
            "LTX_PIPELINES_HOME": str(home.root),
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}",
            # read by deploy/mlflow-server.sh
            "MLFLOW_BACKEND_STORE_URI": mlflow_db,
            "MLFLOW_ARTIFACTS_DESTINATION": str(tmp_path / "mlartifacts"),
            "MLFLOW_HOST": "127.0.0.1",
            "MLFLOW_PORT": str(port),
            "MLFLOW_WORKERS": "1",
        }
        yield env


@pytest.fixture
def services(tier: dict[str, str], tmp_path: Path) -> Iterator[dict[str, Service]]:
    """The MLflow server and the two Celery workers, started as docs/deploy.md says; stopped whatever happens."""
    import requests

    started: dict[str, Service] = {}
    try:
        started["mlflow"] = Service(
            "mlflow server", ["bash", str(REPO / "deploy" / "mlflow-server.sh")], tier, tmp_path / "mlflow.log"
        )
        # Create the instance's schema once, before the workers (docs: `dagster instance migrate`): processes that
        # open a fresh Postgres instance at the same moment race to create the same tables.
        migrate = subprocess.run(
            [str(BIN / "dagster"), "instance", "migrate"], env=tier, capture_output=True, text=True, timeout=120
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr
        for name, queue in (("cpu", "dagster"), ("gpu", GPU_QUEUE)):
            started[name] = Service(
                f"celery worker {name}",
                [
                    str(BIN / "dagster-celery"),
                    "worker",
                    "start",
                    "-A",
                    "dagster_celery.app",
                    "-y",
                    str(REPO / "deploy" / "celery.yaml"),
                    "-q",
                    queue,
                    "-n",
                    name,
                    "--",
                    "--concurrency=1",
                ],
                tier,
                tmp_path / f"celery-{name}.log",
                cwd=tmp_path,
            )

        def healthy() -> bool:
            try:
                return requests.get(f"{tier['MLFLOW_TRACKING_URI']}/health", timeout=2).ok
            except requests.RequestException:
                return False

        for name in ("cpu", "gpu"):
            worker = started[name]
            worker.wait_until(lambda w=worker, n=name: f"{n}@" in w.tail() and " ready." in w.tail(), 90, "ready")
        started["mlflow"].wait_until(healthy, 120, "answer on /health")
        yield started
    finally:
        for service in started.values():
            service.terminate()
        for service in started.values():
            service.stop()


def test_full_graph_on_postgres_celery_and_mlflow_server(
    tier, services, dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The user's command, in its own process: the orchestrator; every step runs in a worker.
    cli = subprocess.Popen(
        [sys.executable, "-m", "ltx_pipelines.cli", "materialize", "--dataset", str(dataset), "--steps", "30"],
        env=tier,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        output, _ = cli.communicate(timeout=300)
    except subprocess.TimeoutExpired:
        cli.kill()
        output, _ = cli.communicate()
        pytest.fail(f"materialize did not finish within 300s:\n{output[-6000:]}\n{services['gpu'].tail()}")
    assert cli.returncode == 0, f"{output[-6000:]}\n--- cpu worker\n{services['cpu'].tail()}"

    # Run storage is the Postgres instance of deploy/dagster.yaml, read back as Dagster sees it ...
    monkeypatch.setenv("DAGSTER_PG_URL", tier["DAGSTER_PG_URL"])
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(tier["DAGSTER_HOME"])) as instance:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        runs = instance.get_runs()
        assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
        run = runs[0]
        assert run.tags["dagster/partition"] == "neon-shapes"
        records = instance.all_logs(run.run_id)
        # ... and straight from PostgreSQL.
        assert query(tier["DAGSTER_PG_URL"], "SELECT run_id, status FROM runs") == [(run.run_id, "SUCCESS")]

        materialized = {
            r.dagster_event.step_key for r in records if r.dagster_event and r.dagster_event.is_step_materialization
        }
        assert materialized == set(ASSET_ORDER)

        # Every step ran in a worker, not in the orchestrating process; GPU steps on the GPU queue's worker.
        events = [r.dagster_event for r in records if r.dagster_event]
        started = {e.step_key: e.pid for e in events if e.is_step_start}
        assert set(started) == JOB_STEPS
        assert cli.pid not in started.values()
        worker_of = {}
        for event in events:
            if event.is_engine_event and event.step_key:
                name = event.event_specific_data.metadata.get("Celery worker")
                if name is not None:
                    worker_of[event.step_key] = name.value.split("@")[0]
        assert worker_of == {step: "gpu" if step in GPU_STEPS else "cpu" for step in JOB_STEPS}
        assert len({started[s] for s in GPU_STEPS}) == 1  # the GPU worker's one process ran them all

        # The GPU pool was used: a slot limit of 1 from deploy/dagster.yaml, free again after the run.
        pool = instance.event_log_storage.get_concurrency_info("gpu")
        assert pool.slot_count == 1 and pool.active_slot_count == 0

    # The registry is the MLflow server's, on its Postgres backend, with artifacts in its artifact store.
    client = RegistryClient(tracking_uri=tier["MLFLOW_TRACKING_URI"])
    version = client.get_by_alias("ltx-lora-neon-shapes", "candidate")
    assert version.version == "1"
    assert version.tags["ltx.dagster_run_id"] == run.run_id
    assert version.metrics["eval/adapter_loss"] < version.metrics["eval/base_loss"]
    # The run config (--steps) travelled with the run to the GPU worker.
    assert client.client.get_run(version.run_id).data.params["training.steps"] == "30"
    assert query(tier["MLFLOW_BACKEND_STORE_URI"], "SELECT name FROM registered_models") == [("ltx-lora-neon-shapes",)]
    stored = Path(tier["MLFLOW_ARTIFACTS_DESTINATION"])
    assert list(stored.glob(f"*/{version.run_id}/artifacts/adapter/pytorch_lora_weights.safetensors"))
