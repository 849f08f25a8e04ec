"""The deployment tiers' configuration, checked with Dagster's own loaders and no services: executor selection,
the GPU step tags, the Postgres-tier instance file, and the Kubernetes tier (instance, Helm values, the step Jobs
the k8s executor would create) without a cluster."""

from __future__ import annotations

import runpy
import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.instance.config import dagster_instance_config
from dagster._core.instance.ref import InstanceRef

from resources.executors import GPU_POOL, ExecutorConfigError, executor_from_env

REPO = Path(__file__).resolve().parents[1]
DEPLOY = REPO / "deploy"
GPU_STEPS = {"latents", "lora_adapter", "adapter_evaluation"}
CPU_STEPS = {"raw_videos", "video_clips", "video_frames", "captions", "registered_adapter"} | {
    # the asset checks read manifests and cached tensors: no GPU
    "captions_quarantine_check",
    "captions_captions_complete_check",
    "latents_latents_check",
    "lora_adapter_training_loss_check",
    "adapter_evaluation_evaluation_regression_check",
}


def load_definitions(monkeypatch: pytest.MonkeyPatch, **env: str) -> dg.Definitions:
    """definitions.py evaluated afresh under ``env``, as a code server, run worker or Celery worker loads it."""
    for name in ("LTX_EXECUTOR", "LTX_CELERY_BROKER", "LTX_CELERY_BACKEND"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    defs = runpy.run_path(str(REPO / "definitions.py"))["defs"]
    dg.Definitions.validate_loadable(defs)
    return defs


def executor_name(defs: dg.Definitions) -> str:
    return defs.resolve_job_def("full_pipeline").executor_def.name


# -- executor selection ------------------------------------------------------------------------------------------
def test_unset_keeps_dagsters_default_and_in_process_can_be_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    assert executor_from_env({}) is dg.multi_or_in_process_executor
    assert executor_name(load_definitions(monkeypatch)) == "multi_or_in_process_executor"
    assert executor_name(load_definitions(monkeypatch, LTX_EXECUTOR="in_process")) == "in_process"


def test_celery_tier_reads_the_broker_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defs = load_definitions(
        monkeypatch,
        LTX_EXECUTOR="celery",
        LTX_CELERY_BROKER="redis://127.0.0.1:6379/0",
        LTX_CELERY_BACKEND="redis://127.0.0.1:6379/1",
    )
    assert executor_name(defs) == "celery"


def test_k8s_tier_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    assert executor_name(load_definitions(monkeypatch, LTX_EXECUTOR="k8s")) == "k8s"


def test_a_misconfigured_tier_says_what_is_missing() -> None:
    with pytest.raises(ExecutorConfigError, match="LTX_CELERY_BROKER and LTX_CELERY_BACKEND"):
        executor_from_env({"LTX_EXECUTOR": "celery"})
    with pytest.raises(ExecutorConfigError, match="expected one of in_process, celery, k8s"):
        executor_from_env({"LTX_EXECUTOR": "ray"})


def test_gpu_steps_carry_the_gpu_pool_and_routing_tags(monkeypatch: pytest.MonkeyPatch) -> None:
    job = load_definitions(monkeypatch).resolve_job_def("full_pipeline")
    pools = {node.name: node.definition.pool for node in job.graph.nodes}
    assert {name for name, pool in pools.items() if pool == GPU_POOL} == GPU_STEPS
    for node in job.graph.nodes:
        queue = node.definition.tags.get("dagster-celery/queue")
        assert queue == ("gpu" if node.name in GPU_STEPS else None), node.name


# -- Postgres tier -----------------------------------------------------------------------------------------------
def test_postgres_instance_file_is_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Dagster's own validation of deploy/dagster.yaml (no connection); the Celery integration test runs on it."""
    monkeypatch.setenv("DAGSTER_PG_URL", "postgresql+psycopg2://dagster@db-host:5432/dagster")
    shutil.copy(DEPLOY / "dagster.yaml", tmp_path / "dagster.yaml")
    config, _ = dagster_instance_config(str(tmp_path))
    ref = InstanceRef.from_dir(str(tmp_path))
    assert ref.run_storage_data.module_name == "dagster_postgres"
    assert ref.run_coordinator_data.class_name == "QueuedRunCoordinator"
    assert config["concurrency"]["pools"] == {"default_limit": 1, "granularity": "op"}
    assert config["run_monitoring"]["enabled"] and config["run_retries"]["enabled"]


def test_celery_worker_file_is_the_executor_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """deploy/celery.yaml is what `dagster-celery worker start -y` validates, against the executor's schema."""
    from dagster_celery.cli import get_validated_config

    monkeypatch.setenv("LTX_CELERY_BROKER", "redis://broker:6379/0")
    monkeypatch.setenv("LTX_CELERY_BACKEND", "redis://broker:6379/1")
    config = get_validated_config(str(DEPLOY / "celery.yaml"))
    assert config["broker"] == "redis://broker:6379/0" and config["backend"] == "redis://broker:6379/1"
    assert config["config_source"]["worker_prefetch_multiplier"] == 1


# -- Kubernetes tier ---------------------------------------------------------------------------------------------
KUBECONFIG = {
    "apiVersion": "v1",
    "kind": "Config",
    "clusters": [{"name": "absent", "cluster": {"server": "https://127.0.0.1:1"}}],
    "users": [{"name": "absent", "user": {"token": "unused"}}],
    "contexts": [{"name": "absent", "context": {"cluster": "absent", "user": "absent"}}],
    "current-context": "absent",
}


@pytest.fixture
def k8s_instance(tmp_path: Path) -> dg.DagsterInstance:
    """A DagsterInstance from deploy/k8s/dagster.yaml with two changes a cluster-less machine needs: the run
    launcher reads a kubeconfig of a cluster that does not exist instead of the in-cluster service account
    (nothing connects while the launcher is built), and storage is SQLite instead of the cluster's Postgres (the
    same kind of storage block is exercised for real by the Celery integration test)."""
    config = yaml.safe_load((DEPLOY / "k8s" / "dagster.yaml").read_text())
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(KUBECONFIG))
    launcher = config["run_launcher"]["config"]
    assert launcher["load_incluster_config"] is True  # what the cluster uses
    launcher.update(load_incluster_config=False, kubeconfig_file=str(kubeconfig))
    config["storage"] = {"sqlite": {"base_dir": str(tmp_path / "storage")}}
    home = tmp_path / "dagster-home"
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        yield instance


def test_k8s_instance_loads_the_run_launcher(k8s_instance: dg.DagsterInstance) -> None:
    from dagster_k8s import K8sRunLauncher

    launcher = k8s_instance.run_launcher
    assert isinstance(launcher, K8sRunLauncher)
    assert launcher.job_namespace == "ltx" and launcher.instance_config_map == "dagster-instance"
    assert launcher.dagster_home == "/opt/dagster/dagster_home"
    assert k8s_instance.run_monitoring_enabled and k8s_instance.run_retries_enabled


def render_step_job(instance: dg.DagsterInstance, run: dg.DagsterRun, step_tags: dict[str, str], step: str) -> dict:
    """The Kubernetes Job manifest the k8s executor makes for ``step``, composed as its step handler composes it:
    the run launcher's settings, then the step's ``dagster-k8s/config`` tags, through dagster-k8s' own
    ``construct_dagster_k8s_job``."""
    import kubernetes
    from dagster_k8s.container_context import K8sContainerContext
    from dagster_k8s.job import construct_dagster_k8s_job, get_k8s_job_name, get_user_defined_k8s_config

    launcher = instance.run_launcher
    context = K8sContainerContext.create_for_run(run, launcher, include_run_tags=False).merge(
        K8sContainerContext(run_k8s_config=get_user_defined_k8s_config(step_tags))
    )
    job_config = context.get_k8s_job_config("registry.example.com/ltx-pipelines:0.1.0", launcher)
    name = f"dagster-step-{get_k8s_job_name(run.run_id, step)}"
    job = construct_dagster_k8s_job(
        job_config=job_config,
        args=["dagster", "api", "execute_step"],
        job_name=name,
        pod_name=name,
        component="step_worker",
        user_defined_k8s_config=context.run_k8s_config,
        labels={"dagster/job": run.job_name, "dagster/op": step},
    )
    return kubernetes.client.ApiClient().sanitize_for_serialization(job)


def test_gpu_steps_render_pods_that_request_a_gpu(
    k8s_instance: dg.DagsterInstance, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dagster._core.execution.api import create_execution_plan

    job = load_definitions(monkeypatch, LTX_EXECUTOR="k8s").resolve_job_def("full_pipeline")
    assert job.executor_def.name == "k8s"
    tags = {"dagster/partition": "neon-shapes"}
    plan = create_execution_plan(job, tags=tags)
    run = k8s_instance.create_run_for_job(job, execution_plan=plan, tags=tags)
    steps = {step.key: step.tags for step in plan.steps}
    assert set(steps) == GPU_STEPS | CPU_STEPS

    for key, step_tags in steps.items():
        manifest = render_step_job(k8s_instance, run, step_tags, key)
        pod = manifest["spec"]["template"]["spec"]
        container = pod["containers"][0]
        assert container["image"] == "registry.example.com/ltx-pipelines:0.1.0"
        assert pod["serviceAccountName"] == "dagster"
        resources = container.get("resources") or {}
        if key in GPU_STEPS:
            assert resources["requests"]["nvidia.com/gpu"] == "1", key
            assert resources["limits"]["nvidia.com/gpu"] == "1", key
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["tolerations"]
        else:
            assert "nvidia.com/gpu" not in str(resources), key
            assert not pod.get("tolerations"), key


def test_helm_values_match_the_k8s_instance() -> None:
    """deploy/k8s/values.yaml (for the chart) and deploy/k8s/dagster.yaml (what it renders) say the same."""
    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text())
    instance = yaml.safe_load((DEPLOY / "k8s" / "dagster.yaml").read_text())

    deployment = values["dagster-user-deployments"]["deployments"][0]
    env = {item["name"]: item["value"] for item in deployment["env"]}
    assert env["LTX_EXECUTOR"] == "k8s"
    assert env["MLFLOW_TRACKING_URI"].startswith("http")
    mounts = {m["name"]: m["mountPath"] for m in deployment["volumeMounts"]}
    assert env["LTX_PIPELINES_HOME"] == mounts["ltx-home"]
    assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True

    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert instance["run_launcher"]["class"] == "K8sRunLauncher"
    postgres = instance["storage"]["postgres"]["postgres_db"]
    assert values["postgresql"]["postgresqlHost"] == postgres["hostname"]
    assert values["postgresql"]["postgresqlScheme"] == postgres["scheme"] == "postgresql+psycopg2"

    pools, runs = values["concurrency"]["pools"], values["concurrency"]["runs"]
    assert pools == {"defaultLimit": 1, "granularity": "op"}
    assert instance["concurrency"]["pools"] == {"default_limit": 1, "granularity": "op"}
    assert runs["maxConcurrentRuns"] == instance["concurrency"]["runs"]["max_concurrent_runs"]
    assert runs["tagConcurrencyLimits"] == instance["concurrency"]["runs"]["tag_concurrency_limits"]
    monitoring, retries = values["dagsterDaemon"]["runMonitoring"], values["dagsterDaemon"]["runRetries"]
    assert monitoring["startTimeoutSeconds"] == instance["run_monitoring"]["start_timeout_seconds"]
    assert monitoring["freeSlotsAfterRunEndSeconds"] == instance["run_monitoring"]["free_slots_after_run_end_seconds"]
    assert retries["maxRetries"] == instance["run_retries"]["max_retries"]
    # ... and the Postgres tier's instance has the same limits.
    postgres_tier = yaml.safe_load((DEPLOY / "dagster.yaml").read_text())
    assert postgres_tier["concurrency"] == instance["concurrency"]
