"""lora_adapter: train a LoRA on the cached latents (on the compute resource), resumable and cached."""

import dagster as dg

from assets.metadata import image
from assets.partitions import datasets_partitions
from ltx_pipelines.config import with_overrides
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.models.resolve import ResolvedModel
from ltx_pipelines.provenance import code_version
from ltx_pipelines.training import loop
from resources import ComputeResource, StorageResource
from resources.executors import GPU_OP_TAGS, GPU_POOL

CODE_VERSION = "lora_adapter-1"


class TrainingConfig(dg.Config):
    """Overrides of the dataset recipe's ``training`` and ``lora`` sections (unset = recipe value)."""

    steps: int | None = None
    learning_rate: float | None = None
    batch_size: int | None = None
    seed: int | None = None
    rank: int | None = None
    alpha: float | None = None
    log_every: int = 25


@dg.asset(
    partitions_def=datasets_partitions,
    code_version=CODE_VERSION,
    group_name="training",
    io_manager_key="manifest_io",
    kinds={"pytorch", "peft"},
    op_tags=GPU_OP_TAGS,
    pool=GPU_POOL,
)
def lora_adapter(
    context: dg.AssetExecutionContext,
    config: TrainingConfig,
    storage: StorageResource,
    compute: ComputeResource,
    latents: dict,
) -> dg.Output[dict]:
    """A LoRA adapter (diffusers + ComfyUI safetensors) trained on the train split. The run folder is named
    by the hash of its inputs and settings: the same inputs reuse the finished adapter; a killed run resumes
    from its last checkpoint."""
    home = storage.get_home()
    recipe = storage.recipe(context.partition_key)
    training = with_overrides(
        recipe.training,
        {
            "steps": config.steps,
            "learning_rate": config.learning_rate,
            "batch_size": config.batch_size,
            "seed": config.seed,
        },
    )
    lora = with_overrides(recipe.lora, {"rank": config.rank, "alpha": config.alpha})
    model = ResolvedModel(**latents["model"])
    samples = [r for r in map(LatentRecord.from_dict, latents["samples"]) if r.split == "train"]
    frame_rate = recipe.dataset.fps or 24.0
    config_hash = loop.config_hash(lora, training, frame_rate)
    run_key = loop.run_key(samples, model, config_hash)
    run_dir = home.runs / f"{context.partition_key}-{run_key}"

    result = loop.completed_result(run_dir)
    status = "cached"
    if result is None:
        status = "trained"
        context.log.info(f"training {training.steps} steps on {len(samples)} clips in {run_dir}")

        def on_step(log: loop.StepLog) -> None:
            if log.step % config.log_every == 0 or log.step == log.total:
                context.log.info(
                    f"step {log.step}/{log.total} loss {log.loss:.4f} lr {log.lr:.2e} "
                    f"grad_norm {log.grad_norm:.3f} {log.steps_per_second:.1f} it/s"
                )

        job = loop.TrainingJob(
            model=model,
            samples=samples,
            lora=lora,
            training=training,
            run_dir=run_dir,
            frame_rate=frame_rate,
            device=compute.torch_device(),
            adapter_metadata={
                "dataset": context.partition_key,
                "trigger_word": recipe.dataset.trigger_word,
                "code_version": code_version(),
            },
        )
        result = loop.train_lora(job, on_step=on_step)
    else:
        context.log.info(f"adapter for these inputs already trained: {result.adapter.directory}")
    with open(result.loss_curve, "rb") as handle:
        curve = handle.read()
    return dg.Output(
        {
            "data_version": result.adapter.sha256,
            "run_dir": str(run_dir),
            "run_key": run_key,
            "config_hash": config_hash,
            "dataset_version": latents["data_version"],
            "model": model.to_dict(),
            "training": training.model_dump(),
            "lora": lora.model_dump(),
            "frame_rate": frame_rate,
            "train_clips": [s.clip_id for s in samples],
            "result": result.to_dict(),
        },
        data_version=dg.DataVersion(result.adapter.sha256),
        metadata={
            "status": status,
            "steps": result.steps,
            "final_loss": float(sum(result.losses[-10:]) / len(result.losses[-10:])),
            "first_loss": float(result.losses[0]),
            "train_clips": len(samples),
            "resumed_from_step": result.resumed_from,
            "seconds": round(result.seconds, 1),
            "adapter": dg.MetadataValue.path(result.adapter.diffusers_file),
            "adapter_sha256": result.adapter.sha256,
            "loss_curve": image(curve, "loss curve"),
        },
    )
