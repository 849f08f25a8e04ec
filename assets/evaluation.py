"""adapter_evaluation: held-out denoising loss, base vs. adapter, at fixed seeds and noise levels."""

import dagster as dg

from assets.metadata import table
from assets.partitions import datasets_partitions
from ltx_pipelines.atomic import write_json
from ltx_pipelines.config import with_overrides
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.evaluation.denoising import evaluate_denoising
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.models.resolve import ResolvedModel
from resources import ComputeResource, StorageResource
from resources.executors import GPU_OP_TAGS, GPU_POOL

CODE_VERSION = "adapter_evaluation-1"


class EvaluationConfig(dg.Config):
    """Overrides of the recipe's ``evaluation`` section."""

    sigmas: list[float] | None = None
    seeds: list[int] | None = None


@dg.asset(
    partitions_def=datasets_partitions,
    code_version=CODE_VERSION,
    group_name="evaluation",
    io_manager_key="manifest_io",
    kinds={"pytorch"},
    op_tags=GPU_OP_TAGS,
    pool=GPU_POOL,
)
def adapter_evaluation(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    storage: StorageResource,
    compute: ComputeResource,
    latents: dict,
    lora_adapter: dict,
) -> dg.Output[dict]:
    """Mean denoising loss on the held-out clips for the base model and base + adapter; the report is saved
    as ``evaluation.json`` beside the adapter."""
    recipe = storage.recipe(context.partition_key)
    spec = with_overrides(recipe.evaluation, {"sigmas": config.sigmas, "seeds": config.seeds})
    held = [r for r in map(LatentRecord.from_dict, latents["samples"]) if r.split == "holdout"]
    report = evaluate_denoising(
        ResolvedModel(**lora_adapter["model"]),
        lora_adapter["result"]["adapter"]["directory"],
        held,
        spec,
        lora_adapter["frame_rate"],
        compute.torch_device(),
    )
    record = {**report.to_dict(), "spec": spec.model_dump(), "adapter_sha256": lora_adapter["data_version"]}
    path = write_json(f"{lora_adapter['run_dir']}/evaluation.json", record)
    context.log.info(
        f"held-out loss: base {report.base_loss:.4f}, adapter {report.adapter_loss:.4f} "
        f"({report.relative_improvement:+.1%})"
    )
    version = cache_key(record)
    rows = [
        {"sigma": s, "base": f"{v['base']:.4f}", "adapter": f"{v['adapter']:.4f}"} for s, v in report.per_sigma.items()
    ]
    return dg.Output(
        {**record, "data_version": version, "path": str(path)},
        data_version=dg.DataVersion(version),
        metadata={
            "heldout_clips": len(held),
            "base_loss": report.base_loss,
            "adapter_loss": report.adapter_loss,
            "relative_improvement": report.relative_improvement,
            "per_sigma": table(rows, ["sigma", "base", "adapter"]),
            "report": dg.MetadataValue.path(str(path)),
        },
    )
