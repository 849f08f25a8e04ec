"""One adapter's full evaluation: held-out and prior-set denoising loss (base, adapter, champion), sample videos
base vs. adapter with the scores each method calls for, CLIP scores when a CLIP model is configured. The result
is an :class:`EvaluationReport`, saved as ``evaluation.json``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ltx_pipelines.config import EvaluationSpec, MethodSpec
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.evaluation import image_metrics, instructions
from ltx_pipelines.evaluation.clip_score import ClipScorer, clip_scores
from ltx_pipelines.evaluation.denoising import denoising_losses
from ltx_pipelines.evaluation.report import (
    EvaluationReport,
    InContextScores,
    InstructionScores,
    SetScores,
    StyleScores,
    SubjectScores,
)
from ltx_pipelines.evaluation.samples import render_comparison
from ltx_pipelines.frames import FrameClip
from ltx_pipelines.generation import Generator
from ltx_pipelines.home import Home
from ltx_pipelines.models.family import VIDEO, GenerationSettings
from ltx_pipelines.models.resolve import ResolvedModel
from ltx_pipelines.tensors import load_tensors


@dataclass(frozen=True)
class Champion:
    """The registered champion to compare against: its version and a local copy of its adapter."""

    version: str
    adapter_dir: str


@dataclass(frozen=True)
class EvaluationInputs:
    """What an evaluation reads: the held-out samples and their frames, the prior set, the champion, the
    training clips' frames (style references), the method and the trigger word."""

    heldout: Sequence[LatentRecord]
    heldout_frames: dict[str, FrameClip] = field(default_factory=dict)
    prior: Sequence[LatentRecord] = ()
    champion: Champion | None = None
    references: Sequence[np.ndarray] = ()
    method: MethodSpec = field(default_factory=MethodSpec)
    trigger_word: str | None = None


def evaluate_adapter(
    model: ResolvedModel,
    adapter_dir: str | Path,
    adapter_sha256: str,
    inputs: EvaluationInputs,
    spec: EvaluationSpec,
    settings: GenerationSettings,
    run_dir: Path,
    home: Home,
    device: torch.device,
) -> EvaluationReport:
    """Score the adapter (and the champion, on the same clips), render and score samples; saves the report."""
    champion = inputs.champion
    adapters = {"adapter": str(adapter_dir)} | ({"champion": champion.adapter_dir} if champion else {})
    held = denoising_losses(model, adapters, inputs.heldout, spec, settings.frame_rate, device)
    prior = None
    if inputs.prior:
        losses = denoising_losses(model, {"adapter": str(adapter_dir)}, inputs.prior, spec, settings.frame_rate, device)
        prior = SetScores.from_losses([r.clip_id for r in inputs.prior], losses)
    report = EvaluationReport(
        adapter_sha256=adapter_sha256,
        heldout=SetScores.from_losses([r.clip_id for r in inputs.heldout], held),
        prior=prior,
        champion_version=champion.version if champion else None,
        spec=spec.model_dump(),
    )
    needs_samples = spec.prompts or spec.instruction_check or inputs.method.strategy == "in_context"
    if needs_samples:
        generator = Generator.from_model(model, adapter_dir, settings, device)
        report = _sample_scores(report, generator, inputs, spec, settings, run_dir, home, device)
    report.save(run_dir)
    return report


def _sample_scores(report, generator, inputs, spec, settings, run_dir, home, device) -> EvaluationReport:
    updates: dict = {}
    if spec.prompts:
        folder = run_dir / "evaluation_samples"
        pairs, frames = render_comparison(generator, spec.prompts, spec.sample_seeds, settings, folder)
        base = [frames[p.base] for p in pairs]
        tuned = [frames[p.adapter] for p in pairs]
        updates |= {"samples": pairs, "contact_sheet": str(folder / "contact_sheet.png")}
        if inputs.references:
            refs = list(inputs.references)
            updates["style"] = StyleScores(
                histogram_base=image_metrics.histogram_similarity(base, refs),
                histogram_adapter=image_metrics.histogram_similarity(tuned, refs),
            )
        if spec.clip_model:
            scorer = ClipScorer(spec.clip_model, home, device)
            updates["clip"] = clip_scores(scorer, pairs, frames, refs if inputs.references else base)
            if inputs.trigger_word:
                updates["subject"] = _subject(scorer, generator, spec, settings, inputs)
    if spec.instruction_check:
        prompts = [r.caption for r in inputs.heldout]
        seed = spec.sample_seeds[0]
        base = [generator(p, seed=seed, adapter_scale=0.0).frames for p in prompts]
        tuned = [generator(p, seed=seed, adapter_scale=1.0).frames for p in prompts]
        updates["instructions"] = InstructionScores(
            prompts=prompts,
            followed_base=instructions.adherence(base, prompts),
            followed_adapter=instructions.adherence(tuned, prompts),
        )
    if inputs.method.strategy == "in_context":
        updates["in_context"] = _in_context(generator, inputs, spec, settings)
    return report.model_copy(update=updates)


def _in_context(generator: Generator, inputs: EvaluationInputs, spec, settings) -> InContextScores:
    """Each held-out pair: generate from its reference, base and adapter, and compare with its target: decoded
    frames (PSNR/SSIM; telling only with a trained VAE) and, where the sampler is ours, latents (MSE)."""
    scores: dict[str, list[float]] = defaultdict(list)
    records = {r.clip_id: r for r in inputs.heldout}
    clips = [inputs.heldout_frames[c] for c in records if c in inputs.heldout_frames]
    for clip in clips:
        reference, target = clip.load_reference(), clip.load()
        target_latents = load_tensors(records[clip.clip_id].latent_path)[VIDEO]
        for label, scale in (("base", 0.0), ("adapter", 1.0)):
            made = generator(
                records[clip.clip_id].caption,
                seed=spec.sample_seeds[0],
                adapter_scale=scale,
                reference=reference,
                reference_downscale=inputs.method.reference_downscale,
            )
            scores[f"psnr_{label}"].append(image_metrics.psnr(made.frames, target))
            scores[f"ssim_{label}"].append(image_metrics.ssim(made.frames, target))
            if made.latents is not None:
                scores[f"latent_mse_{label}"].append(float(((made.latents - target_latents) ** 2).mean()))
    return InContextScores(clips=[c.clip_id for c in clips], **{k: float(np.mean(v)) for k, v in scores.items()})


def _subject(scorer: ClipScorer, generator: Generator, spec, settings, inputs: EvaluationInputs) -> SubjectScores:
    """Identity: mean pairwise similarity of samples across trigger-word prompts; leakage: similarity to the
    training clips of samples from the same prompts with the trigger word removed."""
    trigger = inputs.trigger_word
    with_trigger = [p for p in spec.prompts if trigger in p] or [f"{trigger} {p}" for p in spec.prompts]
    without = [" ".join(p.replace(trigger, " ").split()) for p in with_trigger]
    style = scorer.centroid(list(inputs.references)) if inputs.references else None
    seed = spec.sample_seeds[0]
    out = {}
    for label, scale in (("base", 0.0), ("adapter", 1.0)):
        embeddings = torch.stack(
            [scorer.centroid([generator(p, seed=seed, adapter_scale=scale).frames]) for p in with_trigger]
        )
        similarity = embeddings @ embeddings.T
        count = len(with_trigger)
        out[f"identity_{label}"] = float((similarity.sum() - count) / max(count * (count - 1), 1))
        leaked = [scorer.centroid([generator(p, seed=seed, adapter_scale=scale).frames]) for p in without]
        out[f"leakage_{label}"] = float(torch.stack(leaked).mean(0) @ style) if style is not None else 0.0
    return SubjectScores(**out)
