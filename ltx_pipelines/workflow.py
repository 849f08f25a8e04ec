"""The whole fine-tune without Dagster, for a GPU pod or a script: the same core stages the assets call, in order,
with the same content-addressed cache and run folders (so Dagster later reuses what this computed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from ltx_pipelines.captioning import CaptionRecord, build_captions
from ltx_pipelines.captioning.presets import resolve_captioner
from ltx_pipelines.captioning.vlm import VlmCaptioner
from ltx_pipelines.catalog import dataset_key
from ltx_pipelines.clips import plan_clips
from ltx_pipelines.compute import resolve_device
from ltx_pipelines.config import LoraSpec, MethodSpec, Recipe, Spec, TrainingSpec, load_recipe, parse_recipe
from ltx_pipelines.dataset import Quarantined, scan_dataset
from ltx_pipelines.encoding import EncodeResult, LatentRecord, assign_splits, encode_dataset
from ltx_pipelines.evaluation.evaluate import EvaluationInputs, evaluate_adapter
from ltx_pipelines.evaluation.report import EvaluationReport
from ltx_pipelines.frames import FrameClip, extract_frames
from ltx_pipelines.home import Home
from ltx_pipelines.locks import folder_lock
from ltx_pipelines.models import ResolvedModel, resolve_model
from ltx_pipelines.provenance import code_version
from ltx_pipelines.training.loop import StepLog, TrainingJob, TrainingResult, completed_result, train_lora
from ltx_pipelines.training.prior import class_clips


class TrainConfig(Spec):
    """``ltx-pipelines train CONFIG.yaml``: a dataset folder and, optionally, its recipe inline."""

    dataset: str
    recipe: dict | None = None
    device: str = "auto"


@dataclass
class EncodedSamples:
    """A dataset's training samples (train / holdout splits, and generated ``prior`` class clips)."""

    samples: list[LatentRecord]
    encoded: EncodeResult
    priors_generated: int = 0

    def split(self, name: str) -> list[LatentRecord]:
        return [s for s in self.samples if s.split == name]


@dataclass
class ClipSet:
    """A folder's clips, encoded: samples, their frames, and what was quarantined on the way."""

    encoded: EncodedSamples
    frames: list[FrameClip]
    quarantined: list[Quarantined]

    @property
    def samples(self) -> list[LatentRecord]:
        return self.encoded.samples


@dataclass
class WorkflowResult:
    """What one end-to-end fine-tune produced."""

    job: TrainingJob
    training: TrainingResult
    report: EvaluationReport
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


def encode_samples(
    frames: Sequence[FrameClip],
    captions: dict[str, CaptionRecord],
    model: ResolvedModel,
    recipe: Recipe,
    home: Home,
    device: torch.device,
) -> EncodedSamples:
    """Latents for the recipe's method (references for IC-LoRA), splits, and DreamBooth class clips if asked."""
    in_context = recipe.method.strategy == "in_context"
    encoded = encode_dataset(
        frames,
        captions,
        model,
        home.cache("latents"),
        home.cache("text"),
        device,
        reference_downscale=recipe.method.reference_downscale if in_context else None,
    )
    samples = assign_splits(encoded.records, recipe.dataset.holdout_fraction)
    generated = 0
    if recipe.prior_preservation is not None:
        prior, generated = class_clips(
            model,
            recipe.prior_preservation,
            recipe.dataset.buckets[0],
            recipe.dataset.fps or 24.0,
            home.cache("prior"),
            home.cache("text"),
            device,
        )
        samples += prior
    return EncodedSamples(samples, encoded, generated)


def plan_training(
    dataset: str,
    samples: EncodedSamples,
    model: ResolvedModel,
    recipe: Recipe,
    home: Home,
    device: torch.device,
    lora: LoraSpec | None = None,
    training: TrainingSpec | None = None,
) -> TrainingJob:
    """The training job of a recipe (with Dagster-side overrides of ``lora``/``training`` when given)."""
    prior = recipe.prior_preservation
    return TrainingJob.plan(
        home.runs,
        dataset,
        samples.split("train"),
        model,
        lora or recipe.lora,
        training or recipe.training,
        frame_rate=recipe.dataset.fps or 24.0,
        device=device,
        adapter_metadata={
            "trigger_word": recipe.dataset.trigger_word,
            "code_version": code_version(),
            "method": recipe.method.strategy,
        },
        method=recipe.method,
        prior=samples.split("prior"),
        prior_weight=prior.weight if prior else 0.0,
    )


def prepare_clip_set(folder: Path, recipe: Recipe, model: ResolvedModel, home: Home, device: torch.device) -> ClipSet:
    """Scan → clip windows → frames → captions → latents for ``folder`` (all cached by content), the same
    stages the assets run; splits assigned."""
    spec = recipe.dataset
    scan = scan_dataset(folder, spec)
    windows = plan_clips(scan.clips, spec, home.cache("scenes"))
    frames = extract_frames(windows.clips, spec, home.cache("frames"))
    model_name = spec.captioning.model
    captioner = VlmCaptioner(resolve_captioner(model_name, home), spec.captioning, device) if model_name else None
    given = {w.clip_id: w.caption for w in windows.clips}
    captions = build_captions(frames.clips, given, spec.trigger_word, captioner, home.cache("captions"))
    if captioner is not None:
        captioner.close()
    by_clip = {c.clip_id: c for c in captions.captions}
    encoded = encode_samples(frames.clips, by_clip, model, recipe, home, device)
    quarantined = scan.quarantined + windows.quarantined + frames.quarantined + captions.quarantined
    return ClipSet(encoded, frames.clips, quarantined)


def run_workflow(
    folder: Path,
    recipe: Recipe,
    home: Home,
    device: str = "auto",
    on_stage: Callable[[str], None] = lambda stage: None,
    on_step: Callable[[StepLog], None] | None = None,
) -> WorkflowResult:
    """Scan → frames → captions → latents → LoRA → evaluation for one folder."""
    torch_device = resolve_device(device)
    model = resolve_model(recipe.base_model, home)
    on_stage("preparing clips (scan, frames, captions, latents)")
    clips = prepare_clip_set(folder, recipe, model, home, torch_device)
    job = plan_training(dataset_key(folder), clips.encoded, model, recipe, home, torch_device)
    with folder_lock(job.run_dir):  # a concurrent run of the same job waits, then reuses the finished adapter
        result = completed_result(job.run_dir)
        trained = result is None
        if result is None:
            on_stage(f"training {recipe.training.steps} steps in {job.run_dir}")
            result = train_lora(job, on_step=on_step)
    on_stage("evaluating")
    prior = []
    if recipe.evaluation.prior_clips:
        plain = recipe.model_copy(update={"method": MethodSpec(), "prior_preservation": None})
        prior = [
            s
            for s in prepare_clip_set(folder / recipe.evaluation.prior_clips, plain, model, home, torch_device).samples
            if s.split != "prior"
        ]
    held = clips.encoded.split("holdout")
    held_ids = {s.clip_id for s in held}
    inputs = EvaluationInputs(
        heldout=held,
        heldout_frames={c.clip_id: c for c in clips.frames if c.clip_id in held_ids},
        prior=prior,
        references=[c.load() for c in clips.frames if c.clip_id not in held_ids][:8],
        method=recipe.method,
        trigger_word=recipe.dataset.trigger_word,
    )
    settings = sample_settings(recipe, job.frame_rate)
    report = evaluate_adapter(
        model,
        result.adapter.directory,
        result.adapter.sha256,
        inputs,
        recipe.evaluation,
        settings,
        job.run_dir,
        home,
        torch_device,
    )
    return WorkflowResult(job, result, report, clips.quarantined, trained)


def sample_settings(recipe: Recipe, frame_rate: float):
    """Evaluation samples at the dataset's first bucket."""
    from ltx_pipelines.models.family import GenerationSettings

    bucket = recipe.dataset.buckets[0]
    return GenerationSettings(
        width=bucket.width,
        height=bucket.height,
        frames=bucket.frames,
        frame_rate=frame_rate,
        steps=recipe.evaluation.inference_steps,
    )
