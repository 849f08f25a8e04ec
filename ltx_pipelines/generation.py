"""Generate videos with a base model plus an adapter (the path every registry consumer takes)."""

from __future__ import annotations

from pathlib import Path

import torch

from ltx_pipelines.compute import resolve_device
from ltx_pipelines.home import Home
from ltx_pipelines.media.encode import write_video
from ltx_pipelines.models.family import GeneratedClip, GenerationSettings, family_for
from ltx_pipelines.models.resolve import resolve_model

ADAPTER_NAME = "ltx_adapter"

__all__ = ["GenerationSettings", "Generator", "save_clip"]


class Generator:
    """A base pipeline with an adapter loaded through diffusers' ``load_lora_weights``."""

    def __init__(self, pipeline, family, settings: GenerationSettings):
        self.pipeline = pipeline
        self.family = family
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
        family = family_for(model.pipeline_class)
        pipeline = family.load_pipeline(model.path, resolve_device(device), torch.float32)
        if adapter is not None:
            pipeline.load_lora_weights(str(adapter), adapter_name=ADAPTER_NAME)
        return cls(pipeline, family, settings)

    def __call__(self, prompt: str, seed: int | None = None, adapter_scale: float = 1.0) -> GeneratedClip:
        """One clip for ``prompt`` (``adapter_scale`` 0 gives the base model's output)."""
        if ADAPTER_NAME in self.pipeline.get_list_adapters().get("transformer", []):
            self.pipeline.set_adapters([ADAPTER_NAME], adapter_weights=[adapter_scale])
        return self.family.generate(self.pipeline, prompt, self.settings, self.settings.seed if seed is None else seed)


def save_clip(path: str | Path, clip: GeneratedClip, frame_rate: float) -> Path:
    """Write a generated clip as MP4, with its audio muxed in when it has any."""
    audio = clip.audio
    if audio is None:
        return write_video(path, clip.frames, fps=frame_rate)
    return write_video(path, clip.frames, fps=frame_rate, audio=audio.waveform.numpy(), sample_rate=audio.sample_rate)
