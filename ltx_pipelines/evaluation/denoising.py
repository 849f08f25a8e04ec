"""Held-out denoising loss, base vs. adapter, at fixed seeds and noise levels.

The noise for (clip, seed, σ) is drawn from a generator seeded by those alone, so the base and the adapter
(and any two runs) are scored on identical inputs and the numbers compare across runs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ltx_pipelines.atomic import write_json
from ltx_pipelines.compute import free_memory
from ltx_pipelines.config import EvaluationSpec
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.models.family import LatentGeometry, ModelFamily, family_for
from ltx_pipelines.models.resolve import ResolvedModel
from ltx_pipelines.training.lora import load_adapter_into
from ltx_pipelines.training.objective import collate, flow_matching_loss
from ltx_pipelines.training.schedule import derive_seed

ADAPTER_NAME = "evaluated"
REPORT_FILE = "evaluation.json"


@dataclass(frozen=True)
class DenoisingReport:
    """Mean held-out losses (lower is better) overall and per σ, for the base and the adapter."""

    clips: list[str]
    base_loss: float
    adapter_loss: float
    per_sigma: dict[str, dict[str, float]]

    @property
    def relative_improvement(self) -> float:
        """(base − adapter) / base: positive when the adapter denoises the held-out clips better."""
        return (self.base_loss - self.adapter_loss) / self.base_loss if self.base_loss else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "relative_improvement": self.relative_improvement}


def save_report(run_dir: str | Path, report: DenoisingReport, spec: EvaluationSpec, adapter_sha256: str) -> dict:
    """Write ``<run_dir>/evaluation.json`` (atomically) and return the record written."""
    record = {**report.to_dict(), "spec": spec.model_dump(), "adapter_sha256": adapter_sha256}
    write_json(Path(run_dir) / REPORT_FILE, record)
    return record


def evaluate_denoising(
    model: ResolvedModel,
    adapter_dir: str | Path,
    samples: Sequence[LatentRecord],
    spec: EvaluationSpec,
    frame_rate: float,
    device: torch.device,
) -> DenoisingReport:
    """Score the base transformer and base + adapter on ``samples`` over every (seed, σ) in ``spec``."""
    if not samples:
        raise ValueError("no held-out clips to evaluate on; raise dataset.holdout_fraction or add clips")
    import diffusers

    family = family_for(model.pipeline_class)
    geometry = family.geometry(model.path)
    transformer = family.load_transformer(model.path, device, torch.float32).eval()
    base = _losses(family, transformer, geometry, samples, spec, frame_rate, device)
    load_adapter_into(transformer, getattr(diffusers, model.pipeline_class), adapter_dir, ADAPTER_NAME)
    adapted = _losses(family, transformer, geometry, samples, spec, frame_rate, device)
    del transformer
    free_memory()
    per_sigma = {f"{s:g}": {"base": base[s], "adapter": adapted[s]} for s in spec.sigmas}
    return DenoisingReport(
        clips=[s.clip_id for s in samples],
        base_loss=sum(base.values()) / len(base),
        adapter_loss=sum(adapted.values()) / len(adapted),
        per_sigma=per_sigma,
    )


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
