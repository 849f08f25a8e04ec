"""CLIP scores of generated clips: text–video alignment and style similarity to the training clips."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ltx_pipelines.evaluation.report import ClipScores, SamplePair
from ltx_pipelines.home import Home
from ltx_pipelines.models.presets import PRESETS
from ltx_pipelines.models.resolve import preset_path


class ClipScorer:
    """A CLIP model (hub id, folder or preset name) that embeds frames and prompts, L2-normalised."""

    def __init__(self, model: str, home: Home, device: torch.device, frames_per_clip: int = 4):
        from transformers import CLIPModel, CLIPProcessor

        source = str(preset_path(model, home)) if model in PRESETS else model
        self.model = CLIPModel.from_pretrained(source, use_safetensors=True).to(device).eval()
        self.processor = CLIPProcessor.from_pretrained(source)
        self.device = device
        self.frames_per_clip = frames_per_clip

    @torch.no_grad()
    def frames(self, clip: np.ndarray) -> torch.Tensor:
        """k×D embeddings of evenly spaced frames of an F×H×W×3 clip."""
        picks = np.linspace(0, len(clip) - 1, self.frames_per_clip).round().astype(int)
        inputs = self.processor(images=[clip[i] for i in picks], return_tensors="pt").to(self.device)
        return _normalise(_tensor(self.model.get_image_features(**inputs)))

    @torch.no_grad()
    def text(self, prompt: str) -> torch.Tensor:
        """D embedding of a prompt."""
        inputs = self.processor(text=[prompt], return_tensors="pt", padding=True, truncation=True).to(self.device)
        return _normalise(_tensor(self.model.get_text_features(**inputs)))[0]

    def alignment(self, clip: np.ndarray, prompt: str) -> float:
        """Mean cosine between the prompt and the clip's frames."""
        return float((self.frames(clip) @ self.text(prompt)).mean())

    def centroid(self, clips: Sequence[np.ndarray]) -> torch.Tensor:
        """The normalised mean frame embedding of ``clips`` (a style reference)."""
        return _normalise(torch.cat([self.frames(c) for c in clips]).mean(0, keepdim=True))[0]


def clip_scores(
    scorer: ClipScorer, pairs: Sequence[SamplePair], frames: dict[str, np.ndarray], references: Sequence[np.ndarray]
) -> ClipScores:
    """Alignment of base and adapter samples with their prompts, and their similarity to the training clips."""
    style = scorer.centroid(references)

    def mean(values: list[float]) -> float:
        return float(sum(values) / len(values))

    def style_of(path: str) -> float:
        return float(scorer.centroid([frames[path]]) @ style)

    return ClipScores(
        alignment_base=mean([scorer.alignment(frames[p.base], p.prompt) for p in pairs]),
        alignment_adapter=mean([scorer.alignment(frames[p.adapter], p.prompt) for p in pairs]),
        style_base=mean([style_of(p.base) for p in pairs]),
        style_adapter=mean([style_of(p.adapter) for p in pairs]),
    )


def _tensor(features) -> torch.Tensor:
    """transformers 5 may return a model output instead of a tensor; take its pooled embedding."""
    return features if isinstance(features, torch.Tensor) else features.pooler_output


def _normalise(x: torch.Tensor) -> torch.Tensor:
    return x / x.norm(dim=-1, keepdim=True).clamp_min(1e-8)


__all__ = ["ClipScorer", "clip_scores"]
