"""latents: VAE latents per clip and text embeddings per caption from the base model, cached by content."""

import dagster as dg

from assets.conditions import on_input_data_change
from assets.metadata import table
from assets.partitions import datasets_partitions
from assets.retries import retry_transient
from ltx_pipelines import encoding
from ltx_pipelines.captioning import CaptionRecord
from ltx_pipelines.frames import FrameClip
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.workflow import encode_samples
from resources import BaseModelResource, ComputeResource, StorageResource
from resources.executors import GPU_OP_TAGS, GPU_POOL


@dg.asset(
    partitions_def=datasets_partitions,
    automation_condition=on_input_data_change(),
    code_version=encoding.CODE_VERSION,
    group_name="training",
    io_manager_key="manifest_io",
    kinds={"pytorch", "diffusers"},
    op_tags=GPU_OP_TAGS,
    pool=GPU_POOL,
)
@retry_transient
def latents(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    base_model: BaseModelResource,
    compute: ComputeResource,
    video_frames: dict,
    captions: dict,
) -> dg.Output[dict]:
    """Training samples as safetensors: ``cache/latents/<key>`` (VAE) and ``cache/text/<key>`` (text
    encoder), each clip marked train or held-out. Encoders load only when something is missing."""
    home = storage.get_home()
    recipe = storage.recipe(context.partition_key)
    model = base_model.resolve(recipe.base_model, home)
    by_clip = {c["clip_id"]: CaptionRecord(**c) for c in captions["captions"]}
    clips = [FrameClip(**c) for c in video_frames["clips"]]
    encoded = encode_samples(clips, by_clip, model, recipe, home, compute.torch_device())
    result = encoded.encoded
    context.log.info(
        f"latents: {result.videos_encoded} encoded, {result.videos_reused} reused; "
        f"text: {result.texts_encoded} encoded, {result.texts_reused} reused"
        + (f"; {encoded.priors_generated} class clip(s) generated" if recipe.prior_preservation else "")
    )
    records = [r.to_dict() for r in encoded.samples]
    version = cache_key([(r["clip_id"], r["latent_key"], r["text_key"], r["split"]) for r in records])
    return dg.Output(
        {"data_version": version, "model": model.to_dict(), "samples": records},
        data_version=dg.DataVersion(version),
        metadata={
            "samples": len(records),
            "train": sum(r["split"] == "train" for r in records),
            "holdout": sum(r["split"] == "holdout" for r in records),
            "prior_class_clips": sum(r["split"] == "prior" for r in records),
            "method": recipe.method.strategy,
            "videos_encoded": result.videos_encoded,
            "texts_encoded": result.texts_encoded,
            "base_model": model.model_id,
            "samples_table": table(records, ["clip_id", "split", "bucket", "latent_shape", "caption"]),
        },
    )
