"""The interface every base model family implements, and the lookup from a pipeline class name."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LatentGeometry:
    """How the VAE compresses video: frames ``1 + (F-1)/t``, sides ``/s``."""

    temporal: int
    spatial: int

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int]:
        return (frames - 1) // self.temporal + 1, height // self.spatial, width // self.spatial


class ModelFamily(ABC):
    """What the pipeline stages need from a model family: load parts, encode, and run the denoiser."""

    name: str
    pipeline_class_name: str

    @abstractmethod
    def load_encoders(self, path: str, device: torch.device, dtype: torch.dtype):
        """A pipeline with the VAE and text encoder loaded and no transformer (for latent precompute)."""

    @abstractmethod
    def load_transformer(self, path: str, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
        """The denoising transformer alone (for training and evaluation)."""

    @abstractmethod
    def load_pipeline(self, path: str, device: torch.device, dtype: torch.dtype):
        """The full generation pipeline."""

    @abstractmethod
    def encode_video(self, pipeline, frames: torch.Tensor) -> torch.Tensor:
        """Normalised latents C×f×h×w of F×H×W×3 uint8 ``frames``."""

    @abstractmethod
    def encode_prompts(self, pipeline, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Text embeddings B×L×D and attention masks B×L."""

    @abstractmethod
    def predict_velocity(
        self,
        transformer: torch.nn.Module,
        geometry: LatentGeometry,
        noisy: torch.Tensor,
        timesteps: torch.Tensor,
        prompt_embeds: torch.Tensor,
        prompt_mask: torch.Tensor,
        frame_rate: float,
    ) -> torch.Tensor:
        """The transformer's velocity for B×C×f×h×w ``noisy`` latents; ``timesteps`` is B×f (σ per latent frame)."""

    @abstractmethod
    def geometry(self, path: str) -> LatentGeometry:
        """The VAE's compression factors."""


def family_for(pipeline_class_name: str) -> ModelFamily:
    """The family that handles a diffusers pipeline class (from ``model_index.json``)."""
    from ltx_pipelines.models.ltx_video import LTXVideoFamily

    families: list[ModelFamily] = [LTXVideoFamily()]
    for family in families:
        if pipeline_class_name == family.pipeline_class_name:
            return family
    supported = ", ".join(f.pipeline_class_name for f in families)
    raise ValueError(f"unsupported base model pipeline {pipeline_class_name!r}; supported: {supported}")
