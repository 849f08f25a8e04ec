"""Generate videos with a base model plus an adapter (the path every registry consumer takes)."""

from __future__ import annotations

from pathlib import Path

import torch

from ltx_pipelines.compute import resolve_device
from ltx_pipelines.home import Home
from ltx_pipelines.media.encode import write_video
from ltx_pipelines.models.family import GeneratedClip, GenerationSettings, family_for
from ltx_pipelines.models.resolve import ResolvedModel, resolve_model
from ltx_pipelines.training.adapters import DIFFUSERS_TYPES, adapter_type, attach_adapter, full_transformer_path

ADAPTER_NAME = "ltx_adapter"

__all__ = ["GenerationSettings", "Generator", "save_clip"]


class Generator:
    """A base pipeline with an adapter: LoRA/DoRA through diffusers' ``load_lora_weights``, other peft types
    through peft, a full fine-tune as the pipeline's transformer. ``adapter_scale`` 0 gives the base model."""

    def __init__(self, pipeline, model: ResolvedModel, adapter: str | Path | None, settings: GenerationSettings):
        self.pipeline = pipeline
        self.model = model
        self.family = family_for(model.pipeline_class)
        self.settings = settings
        self.kind = adapter_type(adapter) if adapter is not None else None
        self._tuned = pipeline.transformer  # a full fine-tune swaps this with the base for adapter_scale 0
        self._base = None

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
        return cls.from_model(model, adapter, settings, resolve_device(device))

    @classmethod
    def from_model(
        cls, model: ResolvedModel, adapter: str | Path | None, settings: GenerationSettings, device: torch.device
    ) -> Generator:
        family = family_for(model.pipeline_class)
        full = full_transformer_path(adapter) if adapter is not None else None
        transformer = family.load_transformer(full, device, torch.float32) if full else None
        pipeline = family.load_pipeline(model.path, device, torch.float32, transformer=transformer)
        kind = adapter_type(adapter) if adapter is not None else None
        if kind in DIFFUSERS_TYPES:
            pipeline.load_lora_weights(str(adapter), adapter_name=ADAPTER_NAME, use_safetensors=True)
        elif kind is not None and kind != "full":
            attach_adapter(pipeline.transformer, type(pipeline), adapter, ADAPTER_NAME)
        return cls(pipeline, model, adapter, settings)

    def __call__(self, prompt: str, seed: int | None = None, adapter_scale: float = 1.0, **extra) -> GeneratedClip:
        """One clip for ``prompt`` (``adapter_scale`` 0 gives the base model's output)."""
        self._scale(adapter_scale)
        seed = self.settings.seed if seed is None else seed
        return self.family.generate(self.pipeline, prompt, self.settings, seed, **extra)

    def _scale(self, scale: float) -> None:
        if self.kind is None:
            return
        if self.kind == "full":
            if scale == 0.0 and self._base is None:
                self._base = self.family.load_transformer(self.model.path, self.pipeline.device, torch.float32)
            self.pipeline.transformer = self._base if scale == 0.0 else self._tuned
            return
        if self.kind in DIFFUSERS_TYPES:
            self.pipeline.set_adapters([ADAPTER_NAME], adapter_weights=[scale])
        elif scale == 0.0:
            self.pipeline.transformer.disable_adapters()
        elif scale == 1.0:
            self.pipeline.transformer.enable_adapters()
        else:
            raise ValueError(f"{self.kind} adapters apply at scale 0 or 1 only, not {scale}")


def save_clip(path: str | Path, clip: GeneratedClip, frame_rate: float) -> Path:
    """Write a generated clip as MP4, with its audio muxed in when it has any."""
    audio = clip.audio
    if audio is None:
        return write_video(path, clip.frames, fps=frame_rate)
    return write_video(path, clip.frames, fps=frame_rate, audio=audio.waveform.numpy(), sample_rate=audio.sample_rate)
