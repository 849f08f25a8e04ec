"""The rectified-flow objective on a batch of cached samples, shared by training and evaluation.

Video: σ per sample (shifted logit-normal when not given), optionally σ = 0 and no loss on the first latent
frame (first-frame conditioning). Audio (families with sound): the same σ; a sample without an audio track gets
pure noise at σ = 1 and no audio loss. Every random draw comes from the ``generator`` passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ltx_pipelines.encoding import LatentRecord, load_sample
from ltx_pipelines.models.family import AUDIO, VIDEO, LatentGeometry, ModelFamily
from ltx_pipelines.training.flow import masked_mse, noisy_latents, sample_sigmas, velocity_target

HAS_AUDIO = "has_audio"


@dataclass
class LossParts:
    """The loss to optimise and its video and audio terms (audio None when the batch has no sound)."""

    total: torch.Tensor
    video: torch.Tensor
    audio: torch.Tensor | None


def collate(
    samples: Sequence[LatentRecord],
    family: ModelFamily,
    geometry: LatentGeometry,
    frame_rate: float,
    device: torch.device,
) -> dict[str, torch.Tensor]:
    """Stack cached samples into a batch; for families with sound, silent clips get a zero audio placeholder."""
    loaded = [load_sample(s) for s in samples]
    batch = {key: torch.stack([item[key] for item in loaded]) for key in loaded[0] if key != AUDIO}
    if AUDIO in family.modalities:
        shape = geometry.audio_latent_shape(batch[VIDEO].shape[2], frame_rate)
        batch[AUDIO] = torch.stack([_fit(item.get(AUDIO), shape) for item in loaded])
        batch[HAS_AUDIO] = torch.tensor([AUDIO in item for item in loaded])
    return {key: value.to(device) for key, value in batch.items()}


def flow_matching_loss(
    family: ModelFamily,
    transformer: torch.nn.Module,
    geometry: LatentGeometry,
    batch: dict[str, torch.Tensor],
    frame_rate: float,
    generator: torch.Generator,
    sigma: torch.Tensor | None = None,
    first_frame_p: float = 0.0,
    audio_weight: float = 1.0,
) -> LossParts:
    """The flow-matching loss of ``batch``; ``sigma`` (B) fixes the noise level, e.g. for evaluation."""
    clean = batch[VIDEO]
    size, _, frames, height, width = clean.shape
    device = clean.device
    if sigma is None:
        sigma = sample_sigmas(size, frames * height * width, generator)
    noise = torch.randn(clean.shape, generator=generator).to(device, clean.dtype)
    sigma_frames = sigma[:, None].repeat(1, frames)
    frame_weight = torch.ones(size, frames)
    conditioned = torch.rand(size, generator=generator) < first_frame_p
    if frames > 1:
        sigma_frames[conditioned, 0] = 0.0
        frame_weight[conditioned, 0] = 0.0
    noisy = {VIDEO: noisy_latents(clean, noise, sigma_frames.to(device))}
    sigmas = {VIDEO: sigma_frames.to(device)}
    if AUDIO in family.modalities:
        audio_clean, has_audio = batch[AUDIO], batch[HAS_AUDIO]
        audio_noise = torch.randn(audio_clean.shape, generator=generator).to(device, audio_clean.dtype)
        audio_sigma = torch.where(has_audio.cpu(), sigma, torch.ones_like(sigma)).to(device)
        mix = audio_sigma[:, None, None, None].to(audio_clean.dtype)
        noisy[AUDIO] = (1.0 - mix) * audio_clean + mix * audio_noise
        sigmas[AUDIO] = audio_sigma
    prediction = family.predict(transformer, geometry, noisy, sigmas, batch, frame_rate)
    video_loss = masked_mse(prediction[VIDEO], velocity_target(clean, noise), frame_weight.to(device))
    if AUDIO not in prediction or not bool(batch[HAS_AUDIO].any()):
        return LossParts(video_loss, video_loss, None)
    squared = (prediction[AUDIO].float() - velocity_target(audio_clean, audio_noise).float()) ** 2
    weight = batch[HAS_AUDIO].float()
    audio_loss = (squared.mean(dim=(1, 2, 3)) * weight).sum() / weight.sum()
    return LossParts(video_loss + audio_weight * audio_loss, video_loss, audio_loss)


def _fit(audio: torch.Tensor | None, shape: tuple[int, int, int]) -> torch.Tensor:
    """``audio`` trimmed or zero-padded along time to ``shape`` (zeros when there is none)."""
    if audio is None:
        return torch.zeros(shape)
    if audio.shape[1] < shape[1]:
        audio = torch.nn.functional.pad(audio, (0, 0, 0, shape[1] - audio.shape[1]))
    return audio[:, : shape[1]]
