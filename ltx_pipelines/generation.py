"""Generate videos with a base model plus an adapter (the path every registry consumer takes)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ltx_pipelines.compute import resolve_device
from ltx_pipelines.home import Home
from ltx_pipelines.models.family import family_for
from ltx_pipelines.models.resolve import resolve_model

ADAPTER_NAME = "ltx_adapter"


@dataclass(frozen=True)
class GenerationSettings:
    """Size, length and sampler settings of a generated clip."""

    width: int = 64
    height: int = 64
    frames: int = 17
    frame_rate: float = 24.0
    steps: int = 20
    guidance_scale: float = 1.0
    seed: int = 0


class Generator:
    """A base pipeline with an adapter loaded through diffusers' ``load_lora_weights``."""

    def __init__(self, pipeline, settings: GenerationSettings):
        self.pipeline = pipeline
        self.settings = settings

    @classmethod
    def load(
        cls,
        base_model: str,
        adapter: str | Path | None,
        settings: GenerationSettings,
        base_model_path: str | None = None,
        revision: str | None = None,
        device: str = "auto",
    ) -> Generator:
        """Load ``base_model`` (preferring ``base_model_path`` when it exists here) and the adapter folder."""
        source = base_model_path if base_model_path and Path(base_model_path).is_dir() else base_model
        model = resolve_model(source, Home.from_env(), revision=revision)
        pipeline = family_for(model.pipeline_class).load_pipeline(model.path, resolve_device(device), torch.float32)
        if adapter is not None:
            pipeline.load_lora_weights(str(adapter), adapter_name=ADAPTER_NAME)
        return cls(pipeline, settings)

    def __call__(self, prompt: str, seed: int | None = None, adapter_scale: float = 1.0) -> np.ndarray:
        """One clip for ``prompt``: F×H×W×3 uint8."""
        s = self.settings
        if ADAPTER_NAME in self.pipeline.get_list_adapters().get("transformer", []):
            self.pipeline.set_adapters([ADAPTER_NAME], adapter_weights=[adapter_scale])
        generator = torch.Generator().manual_seed(s.seed if seed is None else seed)
        output = self.pipeline(
            prompt=prompt,
            width=s.width,
            height=s.height,
            num_frames=s.frames,
            frame_rate=s.frame_rate,
            num_inference_steps=s.steps,
            guidance_scale=s.guidance_scale,
            generator=generator,
            output_type="np",
        )
        return (np.clip(output.frames[0], 0.0, 1.0) * 255).round().astype(np.uint8)
