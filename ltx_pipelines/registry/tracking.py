"""One MLflow run per trained adapter: params, per-step training metrics, evaluation metrics, artifacts, the
training dataset as a run input, and the pyfunc generator logged from code (nothing pickled).

Idempotent: a finished run with the same lineage key is reused; unfinished leftovers of a crashed attempt are
deleted before a new attempt, so retries never leave two runs for one adapter.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ltx_pipelines.registry.client import GENERATOR_TAG, RegistryClient
from ltx_pipelines.registry.lineage import Lineage

GENERATOR_MODEL_FILE = Path(__file__).with_name("generator_model.py")
HISTORY_METRICS = {"loss": "train/loss", "lr": "train/lr", "grad_norm": "train/grad_norm"}


@dataclass(frozen=True)
class DatasetInput:
    """The training dataset as MLflow sees it: its clip table, where it lives, and its data version."""

    name: str
    source: str
    digest: str
    rows: list[dict]


@dataclass(frozen=True)
class TrainingRecord:
    """What gets logged to the MLflow run of one trained adapter."""

    params: dict[str, object]
    history: Sequence[dict]
    metrics: dict[str, float]
    artifacts: dict[str, str]  # artifact sub-folder -> local file or folder
    adapter_dir: str
    recipe: dict
    tags: dict[str, str] = field(default_factory=dict)
    dataset: DatasetInput | None = None


def log_training_run(client: RegistryClient, lineage: Lineage, record: TrainingRecord, run_name: str) -> str:
    """The run id of the finished MLflow run for ``lineage``, logging it first if there is none."""
    runs = client.runs_for(lineage.key)
    finished = [r for r in runs if r.info.status == "FINISHED" and r.data.tags.get(GENERATOR_TAG)]
    if finished:
        return finished[0].info.run_id
    for leftover in runs:  # a crashed earlier attempt
        client.call(lambda r=leftover: client.client.delete_run(r.info.run_id))
    run = client.call(
        lambda: client.client.create_run(
            client.experiment_id(), tags={**lineage.tags(), **record.tags}, run_name=run_name
        )
    )
    run_id = run.info.run_id
    _log_values(client, run_id, record)
    for folder, path in record.artifacts.items():
        local = Path(path)
        if local.exists():
            log = client.client.log_artifacts if local.is_dir() else client.client.log_artifact
            client.call(lambda log=log, local=local, folder=folder: log(run_id, str(local), folder))
    _log_inputs_and_generator(client, run_id, record)
    client.call(lambda: client.client.set_terminated(run_id, "FINISHED"))
    return run_id


def generator_signature():
    """Prompts (one string column) in; the params ``predict`` reads, with their defaults (MLflow passes only
    params a signature declares)."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, ParamSchema, ParamSpec, Schema

    return ModelSignature(
        inputs=Schema([ColSpec("string")]),
        params=ParamSchema(
            [
                ParamSpec("output_dir", "string", ""),
                ParamSpec("seed", "long", 0),
                ParamSpec("steps", "long", 0),
                ParamSpec("adapter_scale", "double", 1.0),
                ParamSpec("image_path", "string", ""),
                ParamSpec("reference_path", "string", ""),
            ]
        ),
    )


def _log_values(client: RegistryClient, run_id: str, record: TrainingRecord) -> None:
    from mlflow.entities import Metric, Param

    now = int(time.time() * 1000)
    params = [Param(k, str(v)[:6000]) for k, v in sorted(record.params.items())]
    metrics = []
    for entry in record.history:
        step = int(entry["step"])
        for key, name in HISTORY_METRICS.items():
            metrics.append(Metric(name, float(entry[key]), now, step))
        metrics.append(Metric("train/steps_per_second", 1.0 / max(float(entry["step_seconds"]), 1e-9), now, step))
        metrics += [Metric(k, float(v), now, step) for k, v in entry.items() if k.startswith("system/")]
    metrics += [Metric(k, float(v), now, 0) for k, v in sorted(record.metrics.items())]
    for start in range(0, len(params), 100):  # MLflow takes at most 100 params per batch
        client.call(lambda s=start: client.client.log_batch(run_id, params=params[s : s + 100]))
    for start in range(0, len(metrics), 1000):  # ... and 1000 metrics
        client.call(lambda s=start: client.client.log_batch(run_id, metrics=metrics[s : s + 1000]))


def _log_inputs_and_generator(client: RegistryClient, run_id: str, record: TrainingRecord) -> None:
    import mlflow
    import pandas as pd

    with tempfile.TemporaryDirectory() as tmp:
        recipe = Path(tmp) / "recipe.json"
        recipe.write_text(json.dumps(record.recipe, indent=2, sort_keys=True, default=str))
        with client.active(), mlflow.start_run(run_id=run_id):
            if record.dataset is not None:
                dataset = mlflow.data.from_pandas(
                    pd.DataFrame(record.dataset.rows),
                    source=record.dataset.source,
                    name=record.dataset.name,
                    digest=record.dataset.digest[:36],
                )
                client.call(lambda: mlflow.log_input(dataset, context="training"))
            info = client.call(
                lambda: mlflow.pyfunc.log_model(
                    name="generator",
                    python_model=str(GENERATOR_MODEL_FILE),
                    signature=generator_signature(),
                    artifacts={"adapter": record.adapter_dir, "recipe": str(recipe)},
                    pip_requirements=["ltx-pipelines"],
                )
            )
    client.call(lambda: client.client.set_tag(run_id, GENERATOR_TAG, info.model_uri))
