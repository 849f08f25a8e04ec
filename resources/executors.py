"""Where steps run: the executor of each deployment tier, chosen by ``LTX_EXECUTOR``, and the GPU step tags.

Unset: Dagster's default, as before (``ltx-pipelines materialize`` and the demo run every step in their own process;
a run launched from the UI runs each step in a subprocess). ``in_process``: every step in the run's process, from
the UI too. ``celery``: each step is a Celery task on the broker in ``LTX_CELERY_BROKER`` (results in
``LTX_CELERY_BACKEND``); GPU steps go to the ``gpu`` queue, the rest to Dagster's default ``dagster`` queue.
``k8s``: each step is a Kubernetes Job; GPU steps request a GPU. See docs/deploy.md. The executor libraries are
imported only when their tier is chosen.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

EXECUTOR_ENV = "LTX_EXECUTOR"
CELERY_BROKER_ENV = "LTX_CELERY_BROKER"
CELERY_BACKEND_ENV = "LTX_CELERY_BACKEND"
EXECUTORS = ("in_process", "celery", "k8s")
# Executors that keep the steps in the calling process under ``execute_in_process`` (what `materialize` uses).
LOCAL_EXECUTORS = frozenset({dg.in_process_executor.name, dg.multi_or_in_process_executor.name})

GPU_POOL = "gpu"  # the instance's pool limit is how many GPU steps run at once (docs/deploy.md)
GPU_QUEUE = "gpu"  # Celery queue that GPU workers listen on
CPU_QUEUE = "dagster"  # dagster-celery's default queue

# Op tags of the GPU steps (latents, lora_adapter, adapter_evaluation). Each executor reads its own key and
# ignores the others: dagster-celery routes the step to the GPU queue, dagster-k8s merges the config into the
# step's Job (one GPU, and a toleration for the usual taint of GPU node pools).
GPU_OP_TAGS: dict[str, object] = {
    "dagster-celery/queue": GPU_QUEUE,
    "dagster-k8s/config": {
        "container_config": {
            "resources": {
                "requests": {"nvidia.com/gpu": "1"},
                "limits": {"nvidia.com/gpu": "1"},
            }
        },
        "pod_spec_config": {
            "tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}],
        },
    },
}


class ExecutorConfigError(ValueError):
    """``LTX_EXECUTOR`` names no tier, or the chosen tier lacks a required setting."""


def executor_from_env(environ: Mapping[str, str] | None = None) -> dg.ExecutorDefinition:
    """The executor ``LTX_EXECUTOR`` chooses; unset, Dagster's default (``multi_or_in_process_executor``)."""
    env = os.environ if environ is None else environ
    choice = (env.get(EXECUTOR_ENV) or "").strip().lower().replace("-", "_")
    if not choice:
        return dg.multi_or_in_process_executor
    if choice == "in_process":
        return dg.in_process_executor
    if choice == "celery":
        return celery_executor(env)
    if choice == "k8s":
        from dagster_k8s import k8s_job_executor

        # Image, namespace and service account come from the K8sRunLauncher (deploy/k8s); run config may add more.
        return k8s_job_executor
    raise ExecutorConfigError(f"{EXECUTOR_ENV}={env.get(EXECUTOR_ENV)!r}: expected one of {', '.join(EXECUTORS)}")


def celery_executor(env: Mapping[str, str]) -> dg.ExecutorDefinition:
    """dagster-celery on the broker and result backend named by the environment (the same URLs as the workers'
    ``deploy/celery.yaml``)."""
    missing = [name for name in (CELERY_BROKER_ENV, CELERY_BACKEND_ENV) if not env.get(name)]
    if missing:
        raise ExecutorConfigError(
            f"{EXECUTOR_ENV}=celery needs {' and '.join(missing)} "
            "(e.g. redis://host:6379/0 for both, or pyamqp://guest@host// and rpc://)"
        )
    from dagster_celery import celery_executor as base

    return base.configured(
        {"broker": {"env": CELERY_BROKER_ENV}, "backend": {"env": CELERY_BACKEND_ENV}},
        name="celery",
    )
