"""Rectified flow as the official LTX trainers use it: noise schedule, σ sampling and the loss."""

from __future__ import annotations

import torch


def logit_normal_shift(tokens: int) -> float:
    """μ of the σ sampler: 0.95 at 1024 tokens rising linearly to 2.05 at 4096 (extrapolated beyond)."""
    return 0.95 + (2.05 - 0.95) * (tokens - 1024) / (4096 - 1024)


def sample_sigmas(batch: int, tokens: int, generator: torch.Generator) -> torch.Tensor:
    """σ = sigmoid(N(μ, 1)) per sample, with μ from the token count (more tokens → noisier)."""
    normal = torch.randn(batch, generator=generator) + logit_normal_shift(tokens)
    return torch.sigmoid(normal)


def noisy_latents(clean: torch.Tensor, noise: torch.Tensor, sigma_per_frame: torch.Tensor) -> torch.Tensor:
    """``x_t = (1 − σ)·x0 + σ·ε`` with σ given per sample and latent frame (B×f)."""
    sigma = sigma_per_frame[:, None, :, None, None].to(clean.dtype)
    return (1.0 - sigma) * clean + sigma * noise


def velocity_target(clean: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """The flow-matching target ``ε − x0``."""
    return noise - clean


def masked_mse(prediction: torch.Tensor, target: torch.Tensor, frame_weight: torch.Tensor) -> torch.Tensor:
    """Per-sample MSE (B) over the latent frames with weight 1; frames with weight 0 (clean conditioning frames)
    are left out."""
    squared = (prediction.float() - target.float()) ** 2  # B×C×f×h×w
    per_frame = squared.mean(dim=(1, 3, 4))  # B×f
    return (per_frame * frame_weight).sum(dim=1) / frame_weight.sum(dim=1).clamp_min(1.0)
