"""registered_adapter: log the training to MLflow and register the adapter with its lineage."""

import dagster as dg

from assets.partitions import datasets_partitions
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.provenance import code_version
from ltx_pipelines.registry import Lineage
from ltx_pipelines.registry.client import TrainingRecord
from resources import MlflowResource, StorageResource

CODE_VERSION = "registered_adapter-1"


class RegistrationConfig(dg.Config):
    """Registered model name (default: the recipe's ``model_name`` or ``ltx-lora-<dataset>``) and alias."""

    model_name: str | None = None
    alias: str = "candidate"


@dg.asset(
    partitions_def=datasets_partitions,
    code_version=CODE_VERSION,
    group_name="registry",
    io_manager_key="manifest_io",
    kinds={"mlflow"},
)
def registered_adapter(
    context: dg.AssetExecutionContext,
    config: RegistrationConfig,
    storage: StorageResource,
    mlflow: MlflowResource,
    raw_videos: dict,
    lora_adapter: dict,
    adapter_evaluation: dict,
) -> dg.Output[dict]:
    """An MLflow run (params, per-step loss, evaluation metrics, adapter, loss curve, manifest) and a model
    version tagged with its lineage, alias ``candidate``. The lineage key makes this idempotent: retries and
    re-executions return the existing version."""
    home = storage.get_home()
    recipe = storage.recipe(context.partition_key)
    name = config.model_name or recipe.model_name or f"ltx-lora-{context.partition_key}"
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
    bucket = recipe.dataset.buckets[0]
    generator_recipe = {
        "base_model": model["model_id"],
        "base_model_path": model["path"],
        "base_model_revision": model["revision"],
        "trigger_word": recipe.dataset.trigger_word,
        "generation": {
            "width": bucket.width,
            "height": bucket.height,
            "frames": bucket.frames,
            "frame_rate": lora_adapter["frame_rate"],
        },
        "recipe": recipe.model_dump(),
    }
    evaluation = adapter_evaluation
    record = TrainingRecord(
        params={
            "dataset": context.partition_key,
            "base_model": model["model_id"],
            **{f"training.{k}": v for k, v in lora_adapter["training"].items()},
            **{f"lora.{k}": v for k, v in lora_adapter["lora"].items()},
            "train_clips": len(lora_adapter["train_clips"]),
        },
        losses=lora_adapter["result"]["losses"],
        metrics={
            "eval/base_loss": evaluation["base_loss"],
            "eval/adapter_loss": evaluation["adapter_loss"],
            "eval/relative_improvement": evaluation["relative_improvement"],
        },
        artifacts={
            "adapter": lora_adapter["result"]["adapter"]["directory"],
            "plots": lora_adapter["result"]["loss_curve"],
            "evaluation": evaluation["path"],
            "dataset": str(home.root / "manifests" / "raw_videos" / f"{context.partition_key}.json"),
        },
        adapter_dir=lora_adapter["result"]["adapter"]["directory"],
        recipe=generator_recipe,
    )
    client = mlflow.client(home)
    run_id = client.log_training(lineage, record, run_name=f"{context.partition_key}-{lora_adapter['run_key'][:8]}")
    version = client.register(name, run_id, lineage, alias=config.alias)
    context.log.info(
        f"{'registered' if version.created else 'already registered'} {name} version {version.version} "
        f"(aliases: {', '.join(version.aliases)}; run {run_id})"
    )
    metadata = {
        "model_name": name,
        "version": version.version,
        "aliases": ", ".join(version.aliases),
        "model_uri": f"models:/{name}@{config.alias}",
        "mlflow_run_id": run_id,
        "tracking_uri": client.tracking_uri,
        "status": "registered" if version.created else "existing",
    }
    if mlflow.ui_url:
        metadata["mlflow_run"] = dg.MetadataValue.url(
            f"{mlflow.ui_url.rstrip('/')}/#/experiments/{client.experiment_id()}/runs/{run_id}"
        )
        metadata["mlflow_model_version"] = dg.MetadataValue.url(
            f"{mlflow.ui_url.rstrip('/')}/#/models/{name}/versions/{version.version}"
        )
    return dg.Output(
        {**version.to_dict(), "lineage": lineage.tags()},
        data_version=dg.DataVersion(f"{name}/{version.version}"),
        metadata=metadata,
    )
