"""Denoising loss of the base model and of adapters on a set of cached clips, at fixed seeds and σ.

The noise for (clip, seed, σ) is drawn from a generator seeded by those alone, so the base, the new adapter,
the champion (and any two runs) are scored on identical inputs and the numbers compare across runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from ltx_pipelines.compute import free_memory
from ltx_pipelines.config import EvaluationSpec
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.models.family import LatentGeometry, ModelFamily, family_for
from ltx_pipelines.models.resolve import ResolvedModel
from ltx_pipelines.training.adapters import attach_adapter, full_transformer_path
from ltx_pipelines.training.objective import collate, flow_matching_loss
from ltx_pipelines.training.schedule import derive_seed

BASE = "base"


def denoising_losses(
    model: ResolvedModel,
    adapters: Mapping[str, str | Path],
    samples: Sequence[LatentRecord],
    spec: EvaluationSpec,
    frame_rate: float,
    device: torch.device,
) -> dict[str, dict[float, float]]:
    """Mean loss per σ on ``samples`` for the base (key ``base``) and each named adapter folder."""
    if not samples:
        raise ValueError("no clips to evaluate on; raise dataset.holdout_fraction or add clips")
    import diffusers

    family = family_for(model.pipeline_class)
    geometry = family.geometry(model.path)
    pipeline_class = getattr(diffusers, model.pipeline_class)
    transformer = family.load_transformer(model.path, device, torch.float32).eval()
    results = {BASE: _losses(family, transformer, geometry, samples, spec, frame_rate, device)}
    for name, folder in adapters.items():
        if full := full_transformer_path(folder):  # a fully fine-tuned transformer replaces the base
            tuned = family.load_transformer(full, device, torch.float32).eval()
            results[name] = _losses(family, tuned, geometry, samples, spec, frame_rate, device)
            del tuned
            continue
        attach_adapter(transformer, pipeline_class, folder, name)
        results[name] = _losses(family, transformer, geometry, samples, spec, frame_rate, device)
        transformer.delete_adapters(name)
    del transformer
    free_memory()
    return results


@torch.no_grad()
def _losses(
    family: ModelFamily,
    transformer: torch.nn.Module,
    geometry: LatentGeometry,
    samples: Sequence[LatentRecord],
    spec: EvaluationSpec,
    frame_rate: float,
    device: torch.device,
) -> dict[float, float]:
    totals = dict.fromkeys(spec.sigmas, 0.0)
    for record in samples:
        batch = collate([record], family, geometry, frame_rate, device)
        for seed in spec.seeds:
            for sigma in spec.sigmas:
                seeds = [derive_seed("eval", seed, record.clip_id, sigma)]
                loss = flow_matching_loss(
                    family, transformer, geometry, batch, frame_rate, seeds, sigma=torch.tensor([sigma])
                )
                totals[sigma] += loss.total.item()
    count = len(samples) * len(spec.seeds)
    return {sigma: total / count for sigma, total in totals.items()}
