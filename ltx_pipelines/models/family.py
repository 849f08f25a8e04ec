"""The interface every base model family implements, and the lookup from a pipeline class name.

Tensors travel as dicts: a clip encodes to ``{"latents": C×f×h×w}`` (plus ``"audio_latents": C×L×M`` for
families with sound), a caption to ``{"prompt_embeds", "prompt_attention_mask", ...}``; the denoiser takes the
noisy modalities and their σ and returns a velocity per modality.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np
import torch

VIDEO = "latents"
AUDIO = "audio_latents"
REFERENCE = "reference_latents"  # IC-LoRA: clean reference video latents, conditioning only


@dataclass(frozen=True)
class LatentGeometry:
    """How the VAEs compress: video frames ``1 + (F-1)/temporal``, sides ``/spatial``; audio latents per second."""

    temporal: int
    spatial: int
    audio_latents_per_second: float = 0.0
    audio_channels: int = 0
    audio_mel_bins: int = 0

    def latent_shape(self, frames: int, height: int, width: int) -> tuple[int, int, int]:
        return (frames - 1) // self.temporal + 1, height // self.spatial, width // self.spatial

    def pixel_frames(self, latent_frames: int) -> int:
        return (latent_frames - 1) * self.temporal + 1

    def audio_latent_shape(self, latent_frames: int, frame_rate: float) -> tuple[int, int, int]:
        """C×L×M of the audio that spans ``latent_frames`` of video at ``frame_rate``."""
        seconds = self.pixel_frames(latent_frames) / frame_rate
        return self.audio_channels, round(seconds * self.audio_latents_per_second), self.audio_mel_bins


@dataclass(frozen=True)
class AudioClip:
    """A waveform (channels × samples, float in [-1, 1]) and its sample rate."""

    waveform: torch.Tensor
    sample_rate: int


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


@dataclass(frozen=True)
class GeneratedClip:
    """F×H×W×3 uint8 frames and, for families with sound, the audio."""

    frames: np.ndarray
    audio: AudioClip | None = None
    latents: torch.Tensor | None = None  # the normalised video latents, where the sampler is ours


class ModelFamily(ABC):
    """What the pipeline stages need from a model family: load parts, encode, and run the denoiser."""

    name: str
    pipeline_class_name: str
    transformer_class_name: str
    modalities: tuple[str, ...] = (VIDEO,)

    @abstractmethod
    def load_encoders(self, path: str, device: torch.device, dtype: torch.dtype):
        """A pipeline with the VAE(s) and text encoder loaded and no transformer (for latent precompute)."""

    def load_transformer(self, path: str, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
        """The denoising transformer alone (for training and evaluation)."""
        import diffusers

        model_class = getattr(diffusers, self.transformer_class_name)
        return model_class.from_pretrained(path, subfolder="transformer", dtype=dtype, use_safetensors=True).to(device)

    def load_pipeline(self, path: str, device: torch.device, dtype: torch.dtype, transformer=None):
        """The full generation pipeline (with ``transformer`` in place of the saved one when given)."""
        import diffusers

        extra = {"transformer": transformer} if transformer is not None else {}
        pipeline = getattr(diffusers, self.pipeline_class_name).from_pretrained(
            path, dtype=dtype, use_safetensors=True, **extra
        )
        pipeline.set_progress_bar_config(disable=True)
        return pipeline.to(device)

    image_pipeline_class: str = ""

    def generate(
        self,
        pipeline,
        prompt: str,
        settings: GenerationSettings,
        seed: int,
        image: np.ndarray | None = None,
        reference: np.ndarray | None = None,
        reference_downscale: int = 1,
    ) -> GeneratedClip:
        """One clip for ``prompt`` with the pipeline's current adapters; from a first frame ``image`` (H×W×3
        uint8, image-to-video) or conditioned on ``reference`` frames (F×H×W×3 uint8, IC-LoRA)."""
        if reference is not None:
            return self.generate_in_context(pipeline, prompt, settings, seed, reference, reference_downscale)
        arguments = self._call_arguments(pipeline, prompt, settings, seed)
        if image is not None:
            from PIL import Image

            pipeline = derived_pipeline(pipeline, self.image_pipeline_class)
            arguments["image"] = Image.fromarray(image)
        return self._clip(pipeline, pipeline(**arguments))

    @torch.no_grad()
    def decode(self, pipeline, latents: torch.Tensor) -> np.ndarray:
        """F×H×W×3 uint8 frames of normalised video latents (C×f×h×w), as the pipeline decodes its output."""
        vae = pipeline.vae
        batch = latents.unsqueeze(0).to(vae.device, vae.dtype)
        batch = pipeline._denormalize_latents(batch, vae.latents_mean, vae.latents_std, vae.config.scaling_factor)
        temb = torch.zeros(1, device=vae.device) if vae.config.timestep_conditioning else None
        video = vae.decode(batch, temb, return_dict=False)[0]
        frames = pipeline.video_processor.postprocess_video(video, output_type="np")[0]
        return (np.clip(frames, 0.0, 1.0) * 255).round().astype(np.uint8)

    def generate_in_context(
        self, pipeline, prompt: str, settings: GenerationSettings, seed: int, reference: np.ndarray, downscale: int
    ) -> GeneratedClip:
        """A clip conditioned on reference frames (IC-LoRA)."""
        raise NotImplementedError(f"{self.name} has no in-context sampler")

    def _clip(self, pipeline, output) -> GeneratedClip:
        frames = (np.clip(np.asarray(output.frames[0]), 0.0, 1.0) * 255).round().astype(np.uint8)
        audio = getattr(output, "audio", None)
        if audio is None:
            return GeneratedClip(frames)
        waveform = torch.as_tensor(audio[0] if audio.ndim == 3 else audio).float().cpu()
        return GeneratedClip(frames, AudioClip(waveform, int(pipeline.vocoder.config.output_sampling_rate)))

    def _call_arguments(self, pipeline, prompt: str, settings: GenerationSettings, seed: int) -> dict:
        return {
            "prompt": prompt,
            "width": settings.width,
            "height": settings.height,
            "num_frames": settings.frames,
            "frame_rate": settings.frame_rate,
            "num_inference_steps": settings.steps,
            "guidance_scale": settings.guidance_scale,
            "generator": torch.Generator().manual_seed(seed),
            "output_type": "np",
        }

    @abstractmethod
    def geometry(self, path: str) -> LatentGeometry:
        """The VAEs' compression factors, read from the model folder's configs."""

    @abstractmethod
    def encode_clip(self, encoders, frames: torch.Tensor, audio: AudioClip | None) -> dict[str, torch.Tensor]:
        """Normalised latents of F×H×W×3 uint8 ``frames`` (and of ``audio`` where the family has sound)."""

    @abstractmethod
    def encode_prompts(self, encoders, texts: list[str]) -> list[dict[str, torch.Tensor]]:
        """Per text: the tensors the denoiser is conditioned on."""

    @abstractmethod
    def predict(
        self,
        transformer: torch.nn.Module,
        geometry: LatentGeometry,
        noisy: dict[str, torch.Tensor],
        sigmas: dict[str, torch.Tensor],
        text: dict[str, torch.Tensor],
        frame_rate: float,
    ) -> dict[str, torch.Tensor]:
        """Velocity per modality. ``sigmas["latents"]`` is B×f (σ per latent frame); ``sigmas["audio_latents"]`` B."""


def derived_pipeline(pipeline, class_name: str):
    """A pipeline of another class sharing ``pipeline``'s components (and adapters), made once and kept."""
    import diffusers

    cache = pipeline.__dict__.setdefault("_ltx_derived", {})
    if class_name not in cache:
        derived = getattr(diffusers, class_name).from_pipe(pipeline)
        derived.set_progress_bar_config(disable=True)
        cache[class_name] = derived
    return cache[class_name]


def family_for(pipeline_class_name: str) -> ModelFamily:
    """The family that handles a diffusers pipeline class (from ``model_index.json``)."""
    from ltx_pipelines.models.ltx2 import LTX2Family
    from ltx_pipelines.models.ltx_video import LTXVideoFamily

    families: list[ModelFamily] = [LTXVideoFamily(), LTX2Family()]
    for family in families:
        if pipeline_class_name == family.pipeline_class_name:
            return family
    supported = ", ".join(f.pipeline_class_name for f in families)
    raise ValueError(f"unsupported base model pipeline {pipeline_class_name!r}; supported: {supported}")
