"""registered_adapter: log the training to MLflow, register the adapter with its lineage, apply the gate."""

import dagster as dg

from assets.conditions import on_input_data_change
from assets.partitions import datasets_partitions
from assets.retries import retry_transient
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.locks import folder_lock
from ltx_pipelines.provenance import code_version
from ltx_pipelines.registry import CANDIDATE, CHAMPION, DatasetInput, Lineage, TrainingRecord, log_training_run
from resources import MlflowResource, StorageResource

CODE_VERSION = "registered_adapter-2"


class RegistrationConfig(dg.Config):
    """Registered model name (default: the recipe's ``model_name`` or ``ltx-lora-<dataset>``) and gate switch."""

    model_name: str | None = None
    apply_promotion_gate: bool = True


@dg.asset(
    partitions_def=datasets_partitions,
    automation_condition=on_input_data_change(),
    code_version=CODE_VERSION,
    group_name="registry",
    io_manager_key="manifest_io",
    kinds={"mlflow"},
)
@retry_transient
def registered_adapter(
    context: dg.AssetExecutionContext,
    config: RegistrationConfig,
    storage: StorageResource,
    mlflow: MlflowResource,
    raw_videos: dict,
    latents: dict,
    lora_adapter: dict,
    adapter_evaluation: dict,
) -> dg.Output[dict]:
    """An MLflow run (params, per-step metrics, evaluation, adapter, samples, dataset input) and a model version
    tagged with its lineage, alias ``candidate``; ``champion`` moves when the evaluation's gate says so. The
    lineage key makes this idempotent: retries and re-executions return the existing version."""
    home = storage.get_home()
    recipe = storage.recipe(context.partition_key)
    name = config.model_name or recipe.registered_model_name(context.partition_key)
    model = lora_adapter["model"]
    lineage = Lineage(
        key=cache_key(context.partition_key, lora_adapter["run_key"], lora_adapter["data_version"]),
        dataset=context.partition_key,
        dataset_version=raw_videos["data_version"],
        base_model=model["model_id"],
        base_model_revision=model["revision"],
        code_version=code_version(),
        training_config_hash=lora_adapter["config_hash"],
        adapter_sha256=lora_adapter["data_version"],
        dagster_run_id=context.run_id,
    )
    client = mlflow.client(home)
    # One registration per lineage at a time: a concurrent materialization of the same partition waits, then
    # finds the finished run and version (an unfinished run seen under the lock is a crashed attempt).
    with folder_lock(home.root / "locks" / f"register-{lineage.key}"):
        run_id = log_training_run(
            client,
            lineage,
            _record(context, recipe, raw_videos, latents, lora_adapter, adapter_evaluation, home),
            run_name=f"{name}-{lora_adapter['run_key'][:8]}",
        )
        version = client.register(name, run_id, lineage, alias=CANDIDATE)
        outcome = _apply_gate(client, name, version.version, adapter_evaluation, config.apply_promotion_gate)
    champion = client.alias_version(name, CHAMPION)
    context.log.info(
        f"{'registered' if version.created else 'already registered'} {name} v{version.version} "
        f"(run {run_id}); {outcome}; champion is v{champion}"
    )
    metadata = {
        "model_name": name,
        "version": version.version,
        "aliases": ", ".join(client.get_version(name, version.version).aliases),
        "champion_version": champion or "none",
        "promotion": outcome,
        "model_uri": f"models:/{name}/{version.version}",
        "mlflow_run_id": run_id,
        "tracking_uri": client.tracking_uri,
        "status": "registered" if version.created else "existing",
        "mlflow_run": dg.MetadataValue.url(mlflow.run_url(client.experiment_id(), run_id, home)),
        "mlflow_model_version": dg.MetadataValue.url(mlflow.version_url(name, version.version, home)),
    }
    return dg.Output(
        {**version.to_dict(), "lineage": lineage.tags(), "champion_version": champion, "promotion": outcome},
        data_version=dg.DataVersion(f"{name}/{version.version}/{champion}"),
        metadata=metadata,
    )


def _record(context, recipe, raw_videos, latents, lora_adapter, evaluation, home) -> TrainingRecord:
    run_dir = lora_adapter["run_dir"]
    model = lora_adapter["model"]
    bucket = recipe.dataset.buckets[0]
    return TrainingRecord(
        params={
            "dataset": context.partition_key,
            "base_model": model["model_id"],
            "base_model_revision": model["revision"],
            **{f"training.{k}": v for k, v in lora_adapter["training"].items()},
            **{f"lora.{k}": v for k, v in lora_adapter["lora"].items()},
            **{f"dataset.{k}": v for k, v in recipe.dataset.model_dump().items()},
            "train_clips": len(lora_adapter["train_clips"]),
        },
        history=lora_adapter["result"]["history"],
        metrics=_metrics(evaluation),
        artifacts={
            "adapter": lora_adapter["result"]["adapter"]["directory"],
            "plots": lora_adapter["result"]["loss_curve"],
            "evaluation": evaluation["path"],
            "evaluation/samples": f"{run_dir}/evaluation_samples",
            "validation_samples": f"{run_dir}/samples",
            "dataset": str(home.root / "manifests" / "raw_videos" / f"{context.partition_key}.json"),
        },
        adapter_dir=lora_adapter["result"]["adapter"]["directory"],
        recipe={
            "base_model": model["model_id"],
            "base_model_path": model["path"],
            "base_model_revision": model["revision"],
            "trigger_word": recipe.dataset.trigger_word,
            "method": recipe.method.model_dump(),
            "generation": {
                "width": bucket.width,
                "height": bucket.height,
                "frames": bucket.frames,
                "frame_rate": lora_adapter["frame_rate"],
            },
            "recipe": recipe.model_dump(),
        },
        tags={
            "dagster.partition": context.partition_key,
            "dagster.registration_run_id": context.run_id,
            "dagster.training_run_id": lora_adapter.get("dagster_run_id", ""),
            "dagster.data_version.raw_videos": raw_videos["data_version"],
            "dagster.data_version.latents": latents["data_version"],
            "dagster.data_version.lora_adapter": lora_adapter["data_version"],
        },
        dataset=DatasetInput(
            name=context.partition_key,
            source=raw_videos["folder"],
            digest=raw_videos["data_version"],
            rows=[
                {"clip": c["clip_id"], "caption": c["caption"] or "", "sha256": c["sha256"]}
                for c in raw_videos["clips"]
            ],
        ),
    )


def _metrics(evaluation: dict) -> dict[str, float]:
    from ltx_pipelines.evaluation.report import EvaluationReport

    fields = set(EvaluationReport.model_fields)
    return EvaluationReport.model_validate({k: v for k, v in evaluation.items() if k in fields}).metrics()


def _apply_gate(client, name: str, version: str, evaluation: dict, enabled: bool) -> str:
    """Move ``champion`` when the evaluation says so and nobody moved it since; returns what happened."""
    decision, evaluated_against = evaluation["decision"], evaluation.get("champion_version")
    current = client.alias_version(name, CHAMPION)
    if current == version:
        return "already champion"
    if not enabled:
        return "gate disabled: champion unchanged"
    if current != evaluated_against:
        return _not_promoted(
            client,
            name,
            version,
            f"champion is v{current}, the evaluation compared with v{evaluated_against}; re-run adapter_evaluation",
        )
    if not decision["promote"]:
        return _not_promoted(client, name, version, decision["reason"])
    client.promote(name, version, decision["reason"])
    return f"promoted to champion: {decision['reason']}"


def _not_promoted(client, name: str, version: str, reason: str) -> str:
    client.tag_version(name, version, {"ltx.promotion.decision": "not promoted", "ltx.promotion.reason": reason})
    return f"not promoted: {reason}"
