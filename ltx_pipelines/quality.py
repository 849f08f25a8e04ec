"""Quality gates between stages: what must hold before GPU time is spent on a dataset or an adapter is trusted."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch

from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.models.family import VIDEO, LatentGeometry
from ltx_pipelines.tensors import load_tensors


@dataclass(frozen=True)
class LossHealth:
    """The training loss curve summarised: finite everywhere, and whether the last quarter beats the first."""

    finite: bool
    first: float
    last: float

    @property
    def decreasing(self) -> bool:
        return self.finite and self.last < self.first


def loss_health(losses: Sequence[float]) -> LossHealth:
    """Mean loss of the first and the last quarter of the steps (at least one step each)."""
    if not losses:
        return LossHealth(False, math.nan, math.nan)
    quarter = max(len(losses) // 4, 1)
    finite = all(math.isfinite(value) for value in losses)
    return LossHealth(finite, sum(losses[:quarter]) / quarter, sum(losses[-quarter:]) / quarter)


def missing_captions(clip_ids: Iterable[str], captions: dict[str, str]) -> list[str]:
    """Clips with no caption, or only whitespace."""
    return sorted(clip for clip in clip_ids if not (captions.get(clip) or "").strip())


def latent_problems(records: Sequence[LatentRecord], geometry: LatentGeometry) -> list[str]:
    """Every cached sample whose tensors are not finite, or whose video latents do not have the shape its bucket
    implies (``C×F'×H'×W'`` from the VAE's compression factors); one line per problem, naming the clip."""
    problems: list[str] = []
    for record in records:
        width, height, frames = (int(part) for part in record.bucket.split("x"))
        expected = geometry.latent_shape(frames, height, width)
        try:
            tensors = {**load_tensors(record.latent_path), **load_tensors(record.text_path)}
        except (OSError, ValueError) as error:
            problems.append(f"{record.clip_id}: cache entry unreadable ({error})")
            continue
        video = tensors.get(VIDEO)
        if video is None or tuple(video.shape[-3:]) != expected:
            shape = None if video is None else tuple(video.shape)
            problems.append(f"{record.clip_id}: latents {shape}, expected (C, {', '.join(map(str, expected))})")
        for name, tensor in tensors.items():
            if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
                problems.append(f"{record.clip_id}: {name} holds NaN or infinite values")
    return problems
