"""The rectified-flow objective on a batch of cached samples, shared by training and evaluation.

Video: σ per sample (shifted logit-normal when not given), optionally σ = 0 and no loss on the first latent
frame (first-frame conditioning). Audio (families with sound): the same σ; a sample without an audio track gets
pure noise at σ = 1 and no audio loss. Each sample draws its randomness from its own seed, so a sample's noise
does not depend on which batch, or which data-parallel shard, it lands in.
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
    """Per-sample losses (B): the total to optimise, its video term and its audio term (0 without sound)."""

    total: torch.Tensor
    video: torch.Tensor
    audio: torch.Tensor


@dataclass
class SampleNoise:
    """The random draws of a batch: σ (B), video noise, first-frame flags (B) and audio noise (or None)."""

    sigma: torch.Tensor
    noise: torch.Tensor
    conditioned: torch.Tensor
    audio_noise: torch.Tensor | None


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


def draw_noise(batch: dict[str, torch.Tensor], seeds: Sequence[int], first_frame_p: float = 0.0) -> SampleNoise:
    """Each sample's σ, noise and conditioning flag from a generator seeded by its own seed."""
    clean = batch[VIDEO]
    _, _, frames, height, width = clean.shape
    sigmas, noises, flags, audio = [], [], [], []
    for seed in seeds:
        generator = torch.Generator().manual_seed(seed)
        sigmas.append(sample_sigmas(1, frames * height * width, generator))
        noises.append(torch.randn(clean.shape[1:], generator=generator))
        flags.append(torch.rand(1, generator=generator) < first_frame_p)
        if AUDIO in batch:
            audio.append(torch.randn(batch[AUDIO].shape[1:], generator=generator))
    return SampleNoise(torch.cat(sigmas), torch.stack(noises), torch.cat(flags), torch.stack(audio) if audio else None)


def flow_matching_loss(
    family: ModelFamily,
    transformer: torch.nn.Module,
    geometry: LatentGeometry,
    batch: dict[str, torch.Tensor],
    frame_rate: float,
    seeds: Sequence[int],
    sigma: torch.Tensor | None = None,
    first_frame_p: float = 0.0,
    audio_weight: float = 1.0,
    modalities: str = "audio_video",
) -> LossParts:
    """Per-sample flow-matching losses of ``batch``; ``sigma`` (B) fixes the noise level, e.g. for evaluation.

    ``modalities`` (families with sound): ``video`` trains the video alone (sound as pure noise, no loss),
    ``audio`` the sound alone (video given clean, no loss). Reference latents in the batch (IC-LoRA) reach the
    denoiser as clean conditioning.
    """
    draws = draw_noise(batch, seeds, first_frame_p)
    clean = batch[VIDEO]
    device, frames = clean.device, clean.shape[2]
    sigma = draws.sigma if sigma is None else sigma.float()
    noise = draws.noise.to(device, clean.dtype)
    sigma_frames = sigma[:, None].repeat(1, frames)
    frame_weight = torch.ones_like(sigma_frames)
    if frames > 1:
        sigma_frames[draws.conditioned, 0] = 0.0
        frame_weight[draws.conditioned, 0] = 0.0
    if modalities == "audio":  # the footage is the condition
        sigma_frames.zero_()
        frame_weight.zero_()
    noisy = {VIDEO: noisy_latents(clean, noise, sigma_frames.to(device))}
    sigmas = {VIDEO: sigma_frames.to(device)}
    if AUDIO in family.modalities:
        audio_clean = batch[AUDIO]
        has_audio = batch[HAS_AUDIO].cpu() & (modalities != "video")
        audio_noise = draws.audio_noise.to(device, audio_clean.dtype)
        audio_sigma = torch.where(has_audio, sigma, torch.ones_like(sigma)).to(device)
        mix = audio_sigma[:, None, None, None].to(audio_clean.dtype)
        noisy[AUDIO] = (1.0 - mix) * audio_clean + mix * audio_noise
        sigmas[AUDIO] = audio_sigma
    prediction = family.predict(transformer, geometry, noisy, sigmas, batch, frame_rate)
    video_loss = masked_mse(prediction[VIDEO], velocity_target(clean, noise), frame_weight.to(device))
    audio_loss = torch.zeros_like(video_loss)
    if AUDIO in prediction:
        squared = (prediction[AUDIO].float() - velocity_target(audio_clean, audio_noise).float()) ** 2
        audio_loss = squared.mean(dim=(1, 2, 3)) * has_audio.to(device).float()
    return LossParts(video_loss + audio_weight * audio_loss, video_loss, audio_loss)


def _fit(audio: torch.Tensor | None, shape: tuple[int, int, int]) -> torch.Tensor:
    """``audio`` trimmed or zero-padded along time to ``shape`` (zeros when there is none)."""
    if audio is None:
        return torch.zeros(shape)
    if audio.shape[1] < shape[1]:
        audio = torch.nn.functional.pad(audio, (0, 0, 0, shape[1] - audio.shape[1]))
    return audio[:, : shape[1]]
