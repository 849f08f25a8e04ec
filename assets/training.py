"""lora_adapter: train a LoRA on the cached latents (on the compute resource), resumable and cached."""

import dagster as dg

from assets.conditions import on_input_data_change
from assets.metadata import image
from assets.partitions import datasets_partitions
from ltx_pipelines.config import with_overrides
from ltx_pipelines.encoding import EncodeResult, LatentRecord
from ltx_pipelines.locks import folder_lock
from ltx_pipelines.models.resolve import ResolvedModel
from ltx_pipelines.training import loop
from ltx_pipelines.training.launch import run_torchrun
from ltx_pipelines.workflow import EncodedSamples, plan_training
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
    automation_condition=on_input_data_change(),
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
    encoded = EncodedSamples([LatentRecord.from_dict(s) for s in latents["samples"]], EncodeResult())
    samples = encoded.split("train")
    job = plan_training(
        context.partition_key,
        encoded,
        ResolvedModel(**latents["model"]),
        recipe,
        home,
        compute.torch_device(),
        lora=lora,
        training=training,
    )
    # Two materializations of one partition (or the CLI and Dagster) train into the same run folder: one trains,
    # the other waits for the lock and then reuses the finished adapter.
    with folder_lock(job.run_dir):
        result = loop.completed_result(job.run_dir)
        status = "cached"
        if result is None:
            status = "trained"
            context.log.info(f"training {training.steps} steps on {len(samples)} clips in {job.run_dir}")

            def on_step(log: loop.StepLog) -> None:
                if log.step % config.log_every == 0 or log.step == log.total:
                    context.log.info(
                        f"step {log.step}/{log.total} loss {log.loss:.4f} lr {log.lr:.2e} "
                        f"grad_norm {log.grad_norm:.3f} {log.steps_per_second:.1f} it/s"
                    )

            if compute.processes > 1:
                result = run_torchrun(job, compute.processes, on_line=context.log.info)
            else:
                result = loop.train_lora(job, on_step=on_step)
        else:
            context.log.info(f"adapter for these inputs already trained: {result.adapter.directory}")
    with open(result.loss_curve, "rb") as handle:
        curve = handle.read()
    pictures = {"loss_curve": image(curve, "loss curve")}
    if sheets := sorted(job.run_dir.glob("samples/step-*/contact_sheet.png")):
        pictures["validation_samples"] = image(sheets[-1].read_bytes(), f"validation samples, {sheets[-1].parent.name}")
    return dg.Output(
        {
            "data_version": result.adapter.sha256,
            "run_dir": str(job.run_dir),
            "run_key": job.run_key,
            "config_hash": job.config_hash,
            "dataset_version": latents["data_version"],
            "model": job.model.to_dict(),
            "training": training.model_dump(),
            "lora": lora.model_dump(),
            "frame_rate": job.frame_rate,
            "train_clips": [s.clip_id for s in samples],
            "dagster_run_id": context.run_id,
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
            **pictures,
        },
    )
