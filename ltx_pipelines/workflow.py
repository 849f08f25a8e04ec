"""The whole fine-tune without Dagster, for a GPU pod or a script: the same core stages the assets call, in order,
with the same content-addressed cache and run folders (so Dagster later reuses what this computed)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ltx_pipelines.captioning import build_captions
from ltx_pipelines.catalog import dataset_key
from ltx_pipelines.compute import resolve_device
from ltx_pipelines.config import Recipe, Spec, load_recipe, parse_recipe
from ltx_pipelines.dataset import Quarantined, scan_folder
from ltx_pipelines.encoding import assign_splits, encode_dataset
from ltx_pipelines.evaluation.denoising import DenoisingReport, evaluate_denoising, save_report
from ltx_pipelines.frames import extract_frames
from ltx_pipelines.home import Home
from ltx_pipelines.models import resolve_model
from ltx_pipelines.provenance import code_version
from ltx_pipelines.training.loop import StepLog, TrainingJob, TrainingResult, completed_result, train_lora


class TrainConfig(Spec):
    """``ltx-pipelines train CONFIG.yaml``: a dataset folder and, optionally, its recipe inline."""

    dataset: str
    recipe: dict | None = None
    device: str = "auto"


@dataclass
class WorkflowResult:
    """What one end-to-end fine-tune produced."""

    job: TrainingJob
    training: TrainingResult
    report: DenoisingReport
    quarantined: list[Quarantined]
    trained: bool


def load_train_config(path: str | Path) -> tuple[Path, Recipe, str]:
    """(dataset folder, recipe, device) from a train config; relative paths are relative to the file."""
    import yaml

    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    config = TrainConfig.model_validate(raw)
    folder = (path.parent / config.dataset).resolve()
    recipe = parse_recipe(config.recipe, source=str(path)) if config.recipe is not None else load_recipe(folder)
    return folder, recipe, config.device


def run_workflow(
    folder: Path,
    recipe: Recipe,
    home: Home,
    device: str = "auto",
    on_stage: Callable[[str], None] = lambda stage: None,
    on_step: Callable[[StepLog], None] | None = None,
) -> WorkflowResult:
    """Scan → frames → captions → latents → LoRA → held-out evaluation for one folder."""
    torch_device = resolve_device(device)
    on_stage("scanning clips")
    scan = scan_folder(folder)
    on_stage("extracting frames")
    frames = extract_frames(scan.clips, recipe.dataset, home.cache("frames"))
    framed = {c.clip_id for c in frames.clips}
    captions = build_captions([c for c in scan.clips if c.clip_id in framed], recipe.dataset.trigger_word)
    on_stage("encoding latents and captions")
    model = resolve_model(recipe.base_model, home)
    encoded = encode_dataset(
        frames.clips,
        {c.clip_id: c for c in captions.captions},
        model,
        home.cache("latents"),
        home.cache("text"),
        torch_device,
    )
    samples = assign_splits(encoded.records, recipe.dataset.holdout_fraction)
    job = TrainingJob.plan(
        home.runs,
        dataset_key(folder),
        [s for s in samples if s.split == "train"],
        model,
        recipe.lora,
        recipe.training,
        frame_rate=recipe.dataset.fps or 24.0,
        device=torch_device,
        adapter_metadata={"trigger_word": recipe.dataset.trigger_word, "code_version": code_version()},
    )
    result = completed_result(job.run_dir)
    trained = result is None
    if result is None:
        on_stage(f"training {recipe.training.steps} steps in {job.run_dir}")
        result = train_lora(job, on_step=on_step)
    on_stage("evaluating on held-out clips")
    held = [s for s in samples if s.split == "holdout"]
    report = evaluate_denoising(model, result.adapter.directory, held, recipe.evaluation, job.frame_rate, torch_device)
    save_report(job.run_dir, report, recipe.evaluation, result.adapter.sha256)
    quarantined = scan.quarantined + frames.quarantined + captions.quarantined
    return WorkflowResult(job, result, report, quarantined, trained)
