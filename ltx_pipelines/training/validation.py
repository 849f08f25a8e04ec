"""Validation samples while training: the base pipeline around the transformer being trained."""

from __future__ import annotations

from pathlib import Path

import torch

from ltx_pipelines.atomic import write_bytes
from ltx_pipelines.config import ValidationSpec
from ltx_pipelines.generation import save_clip
from ltx_pipelines.media.preview import contact_sheet
from ltx_pipelines.models.family import GenerationSettings, ModelFamily


class ValidationSampler:
    """Renders ``spec.prompts`` at fixed seeds every ``spec.every`` steps into ``<run>/samples/step-N/``.

    The pipeline (VAE, text encoder) is built once, around the live transformer, on first use.
    """

    def __init__(self, family: ModelFamily, model_path: str, spec: ValidationSpec, settings: GenerationSettings):
        self.family = family
        self.model_path = model_path
        self.spec = spec
        self.settings = settings
        self._pipeline = None

    def due(self, step: int) -> bool:
        return bool(self.spec.every and self.spec.prompts and step % self.spec.every == 0)

    @torch.no_grad()
    def render(self, transformer: torch.nn.Module, step: int, out_dir: Path) -> list[Path]:
        """Write one MP4 per prompt and a contact sheet; returns the files written."""
        if self._pipeline is None:
            device = next(transformer.parameters()).device
            self._pipeline = self.family.load_pipeline(self.model_path, device, torch.float32, transformer=transformer)
        was_training = transformer.training
        transformer.eval()
        folder = out_dir / f"step-{step:08d}"
        written, clips = [], []
        try:
            for index, prompt in enumerate(self.spec.prompts):
                clip = self.family.generate(self._pipeline, prompt, self.settings, self.spec.seed + index)
                written.append(save_clip(folder / f"prompt-{index:02d}.mp4", clip, self.settings.frame_rate))
                clips.append(clip.frames)
        finally:
            transformer.train(was_training)
        written.append(write_bytes(folder / "contact_sheet.png", contact_sheet(clips)))
        return written
