"""One adapter's full evaluation: held-out and prior-set denoising loss (base, adapter, champion), sample videos
base vs. adapter, and CLIP scores when a CLIP model is configured. The result is an :class:`EvaluationReport`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ltx_pipelines.config import EvaluationSpec
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.evaluation.clip_score import ClipScorer, clip_scores
from ltx_pipelines.evaluation.denoising import denoising_losses
from ltx_pipelines.evaluation.report import EvaluationReport, SetScores
from ltx_pipelines.evaluation.samples import render_comparison
from ltx_pipelines.home import Home
from ltx_pipelines.models.family import GenerationSettings
from ltx_pipelines.models.resolve import ResolvedModel


@dataclass(frozen=True)
class Champion:
    """The registered champion to compare against: its version and a local copy of its adapter."""

    version: str
    adapter_dir: str


def evaluate_adapter(
    model: ResolvedModel,
    adapter_dir: str | Path,
    adapter_sha256: str,
    heldout: Sequence[LatentRecord],
    spec: EvaluationSpec,
    settings: GenerationSettings,
    run_dir: Path,
    home: Home,
    device: torch.device,
    prior: Sequence[LatentRecord] = (),
    champion: Champion | None = None,
    references: Sequence[np.ndarray] = (),
) -> EvaluationReport:
    """Score the adapter (and the champion, on the same clips) and render samples; saves ``evaluation.json``."""
    adapters = {"adapter": str(adapter_dir)} | ({"champion": champion.adapter_dir} if champion else {})
    held_losses = denoising_losses(model, adapters, heldout, spec, settings.frame_rate, device)
    prior_scores = None
    if prior:
        prior_losses = denoising_losses(model, {"adapter": str(adapter_dir)}, prior, spec, settings.frame_rate, device)
        prior_scores = SetScores.from_losses([r.clip_id for r in prior], prior_losses)
    pairs, frames, sheet = [], {}, None
    if spec.prompts:
        folder = run_dir / "evaluation_samples"
        pairs, frames = render_comparison(model, adapter_dir, spec.prompts, spec.sample_seeds, settings, folder, device)
        sheet = str(folder / "contact_sheet.png")
    clip = None
    if spec.clip_model and pairs:
        clip = clip_scores(ClipScorer(spec.clip_model, home, device), pairs, frames, references)
    report = EvaluationReport(
        adapter_sha256=adapter_sha256,
        heldout=SetScores.from_losses([r.clip_id for r in heldout], held_losses),
        prior=prior_scores,
        champion_version=champion.version if champion else None,
        samples=pairs,
        contact_sheet=sheet,
        clip=clip,
        spec=spec.model_dump(),
    )
    report.save(run_dir)
    return report
