"""adapter_evaluation: held-out and prior-set denoising loss (base, adapter, champion), samples, gate decision."""

from pathlib import Path

import dagster as dg

from assets.conditions import on_input_data_change
from assets.metadata import image, table
from assets.partitions import datasets_partitions
from assets.retries import retry_transient
from ltx_pipelines.config import MethodSpec, with_overrides
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.evaluation.evaluate import Champion, EvaluationInputs, evaluate_adapter
from ltx_pipelines.evaluation.promotion import decide
from ltx_pipelines.evaluation.report import REPORT_FILE
from ltx_pipelines.frames import FrameClip
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.models.resolve import ResolvedModel
from ltx_pipelines.registry import CHAMPION
from ltx_pipelines.registry.lineage import TAG_PREFIX
from ltx_pipelines.workflow import prepare_clip_set, sample_settings
from resources import ComputeResource, MlflowResource, StorageResource
from resources.executors import GPU_OP_TAGS, GPU_POOL

CODE_VERSION = "adapter_evaluation-3"


class EvaluationConfig(dg.Config):
    """Overrides of the recipe's ``evaluation`` section."""

    sigmas: list[float] | None = None
    seeds: list[int] | None = None
    prompts: list[str] | None = None
    compare_with_champion: bool = True


@dg.asset(
    partitions_def=datasets_partitions,
    automation_condition=on_input_data_change(),
    code_version=CODE_VERSION,
    group_name="evaluation",
    io_manager_key="manifest_io",
    kinds={"pytorch"},
    op_tags=GPU_OP_TAGS,
    pool=GPU_POOL,
)
@retry_transient
def adapter_evaluation(
    context: dg.AssetExecutionContext,
    config: EvaluationConfig,
    storage: StorageResource,
    compute: ComputeResource,
    mlflow: MlflowResource,
    video_frames: dict,
    latents: dict,
    lora_adapter: dict,
) -> dg.Output[dict]:
    """Denoising loss on the held-out clips (adaptation) and the prior set (forgetting) for the base, the new
    adapter and the current champion, all on identical noise; sample videos base vs. adapter; CLIP scores if
    configured; and the promotion decision the registration applies. Saved as ``evaluation.json``."""
    home = storage.get_home()
    recipe = storage.recipe(context.partition_key)
    spec = with_overrides(
        recipe.evaluation, {"sigmas": config.sigmas, "seeds": config.seeds, "prompts": config.prompts}
    )
    model = ResolvedModel(**lora_adapter["model"])
    device = compute.torch_device()
    adapter = lora_adapter["result"]["adapter"]
    samples = [LatentRecord.from_dict(s) for s in latents["samples"]]
    prior = []
    if spec.prior_clips:
        folder = storage.dataset_folder(context.partition_key) / spec.prior_clips
        plain = recipe.model_copy(update={"method": MethodSpec(), "prior_preservation": None})
        prior = [s for s in prepare_clip_set(folder, plain, model, home, device).samples if s.split != "prior"]
    champion = _champion(mlflow, home, recipe.registered_model_name(context.partition_key), adapter["sha256"], model)
    if champion and config.compare_with_champion:
        context.log.info(f"comparing with champion v{champion.version} on the same clips")
    frames = [FrameClip(**c) for c in video_frames["clips"]]
    held = [s for s in samples if s.split == "holdout"]
    held_ids = {s.clip_id for s in held}
    inputs = EvaluationInputs(
        heldout=held,
        heldout_frames={c.clip_id: c for c in frames if c.clip_id in held_ids},
        prior=prior,
        champion=champion if config.compare_with_champion else None,
        references=[c.load() for c in frames if c.clip_id not in held_ids][:8],
        method=recipe.method,
        trigger_word=recipe.dataset.trigger_word,
    )
    settings = sample_settings(recipe, lora_adapter["frame_rate"])
    run_dir = Path(lora_adapter["run_dir"])
    report = evaluate_adapter(
        model, adapter["directory"], adapter["sha256"], inputs, spec, settings, run_dir, home, device
    )
    decision = decide(report, spec.prior_tolerance)
    context.log.info(
        f"held-out loss: base {report.heldout.base:.4f}, adapter {report.heldout.adapter:.4f} "
        f"({report.relative_improvement:+.1%}); promotion: {'yes' if decision.promote else 'no'} ({decision.reason})"
    )
    record = report.model_dump()
    version = cache_key(record)
    rows = [
        {"sigma": s, **{k: f"{v:.4f}" for k, v in values.items()}} for s, values in report.heldout.per_sigma.items()
    ]
    metadata = {
        **{k.removeprefix("eval/"): v for k, v in report.metrics().items()},
        "heldout_clips": len(report.heldout.clips),
        "prior_clips": len(report.prior.clips) if report.prior else 0,
        "champion_version": report.champion_version or "none",
        "promote": decision.promote,
        "decision": decision.reason,
        "per_sigma": table(rows, ["sigma", *next(iter(report.heldout.per_sigma.values()))]),
        "report": dg.MetadataValue.path(f"{lora_adapter['run_dir']}/{REPORT_FILE}"),
    }
    if report.contact_sheet:
        with open(report.contact_sheet, "rb") as handle:
            metadata["samples"] = image(handle.read(), "samples: base (odd rows) vs adapter (even rows)")
    return dg.Output(
        {**record, "decision": decision.to_dict(), "data_version": version, "path": str(metadata["report"].value)},
        data_version=dg.DataVersion(version),
        metadata=metadata,
    )


def _champion(mlflow: MlflowResource, home, name: str, adapter_sha256: str, model: ResolvedModel) -> Champion | None:
    """The registered champion's adapter (downloaded once), unless it is this very adapter or was trained on
    another base model (its weights would mean nothing on this one: the new adapter is judged against the base)."""
    client = mlflow.client(home)
    version = client.alias_version(name, CHAMPION)
    if version is None:
        return None
    tags = client.get_version(name, version).tags
    if tags.get(f"{TAG_PREFIX}adapter_sha256") == adapter_sha256:
        return None
    trained_on = (tags.get(f"{TAG_PREFIX}base_model"), tags.get(f"{TAG_PREFIX}base_model_revision"))
    if trained_on != (model.model_id, model.revision):
        return None
    folder = client.pull(f"{name}/{version}", home.registered_copy(name, version))
    return Champion(version, str(folder))
