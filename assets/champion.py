"""champion_evaluation: how the registered champion does on a dataset's clips (e.g. new footage), vs. the base."""

import dagster as dg

from assets.metadata import table
from assets.partitions import datasets_partitions
from assets.retries import retry_transient
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.evaluation.denoising import BASE, denoising_losses
from ltx_pipelines.evaluation.report import SetScores
from ltx_pipelines.models.resolve import ResolvedModel
from ltx_pipelines.registry import CHAMPION
from resources import ComputeResource, MlflowResource, StorageResource
from resources.executors import GPU_OP_TAGS, GPU_POOL

CODE_VERSION = "champion_evaluation-1"
CHAMPION_KEY = "champion"


class ChampionEvaluationConfig(dg.Config):
    """Which registered model to evaluate (default: this dataset's own) and on which of its clips."""

    model_name: str | None = None
    alias: str = CHAMPION
    include_train_split: bool = True
    sigmas: list[float] | None = None
    seeds: list[int] | None = None


@dg.asset(
    partitions_def=datasets_partitions,
    code_version=CODE_VERSION,
    group_name="evaluation",
    io_manager_key="manifest_io",
    kinds={"pytorch", "mlflow"},
    op_tags=GPU_OP_TAGS,
    pool=GPU_POOL,
)
@retry_transient
def champion_evaluation(
    context: dg.AssetExecutionContext,
    config: ChampionEvaluationConfig,
    storage: StorageResource,
    compute: ComputeResource,
    mlflow: MlflowResource,
    latents: dict,
) -> dg.Output[dict]:
    """Denoising loss of ``models:/NAME@ALIAS`` against the base model on this dataset's clips, with identical
    noise for both: the check a team runs when new footage arrives, before deciding to retrain."""
    home = storage.get_home()
    recipe = storage.recipe(context.partition_key)
    name = config.model_name or recipe.registered_model_name(context.partition_key)
    client = mlflow.client(home)
    version = client.alias_version(name, config.alias)
    if version is None:
        raise dg.Failure(f"registered model {name} has no version with alias @{config.alias}")
    folder = client.pull(f"{name}/{version}", home.registered_copy(name, version))
    splits = {"holdout", "train"} if config.include_train_split else {"holdout"}
    samples = [s for s in (LatentRecord.from_dict(r) for r in latents["samples"]) if s.split in splits]
    spec = recipe.evaluation.model_copy(
        update={k: v for k, v in {"sigmas": config.sigmas, "seeds": config.seeds}.items() if v is not None}
    )
    context.log.info(f"evaluating {name} v{version} (@{config.alias}) on {len(samples)} clip(s)")
    losses = denoising_losses(
        ResolvedModel(**latents["model"]),
        {CHAMPION_KEY: folder},
        samples,
        spec,
        recipe.dataset.fps or 24.0,
        compute.torch_device(),
    )
    scores = SetScores.from_losses(
        [s.clip_id for s in samples], {"base": losses[BASE], "adapter": losses[CHAMPION_KEY]}
    )
    rows = [{"sigma": s, **{k: f"{v:.4f}" for k, v in values.items()}} for s, values in scores.per_sigma.items()]
    return dg.Output(
        {"model_name": name, "version": version, "alias": config.alias, "scores": scores.model_dump()},
        metadata={
            "model_uri": f"models:/{name}/{version}",
            "clips": len(samples),
            "base_loss": scores.base,
            "champion_loss": scores.adapter,
            "relative_change": scores.relative_change,
            "per_sigma": table(rows, ["sigma", *next(iter(scores.per_sigma.values()))]) if rows else "",
            "mlflow_model_version": dg.MetadataValue.url(mlflow.version_url(name, version, home)),
        },
    )
