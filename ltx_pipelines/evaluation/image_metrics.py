"""Frame-level similarity: PSNR, SSIM and colour-histogram intersection of uint8 clips."""

from __future__ import annotations

import numpy as np
import torch


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio (dB) of two uint8 clips of the same shape."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(255.0**2 / mse)


def ssim(a: np.ndarray, b: np.ndarray, window: int = 7, sigma: float = 1.5) -> float:
    """Mean structural similarity of two F×H×W×3 uint8 clips, on luma with a Gaussian window (Wang et al. 2004)."""
    x, y = _luma(a), _luma(b)  # F×1×H×W in [0, 1]
    coords = torch.arange(window, dtype=torch.float64) - window // 2
    g = torch.exp(-(coords**2) / (2 * sigma**2))
    kernel = (g[:, None] * g[None, :] / g.sum() ** 2)[None, None]
    blur = lambda t: torch.nn.functional.conv2d(t, kernel)  # noqa: E731 - valid-region filtering
    mu_x, mu_y = blur(x), blur(y)
    var_x, var_y = blur(x * x) - mu_x**2, blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    c1, c2 = 0.01**2, 0.03**2
    score = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return float(score.mean())


def histogram_similarity(clips: list[np.ndarray], references: list[np.ndarray], bins: int = 8) -> float:
    """Intersection (0..1) of the joint RGB histograms of ``clips`` and ``references``: 1 = same colour mix."""
    return float(np.minimum(_histogram(clips, bins), _histogram(references, bins)).sum())


def _histogram(clips: list[np.ndarray], bins: int) -> np.ndarray:
    pixels = np.concatenate([c.reshape(-1, 3) for c in clips]) // (256 // bins)
    index = pixels[:, 0].astype(np.int64) * bins * bins + pixels[:, 1] * bins + pixels[:, 2]
    counts = np.bincount(index, minlength=bins**3).astype(np.float64)
    return counts / counts.sum()


def _luma(clip: np.ndarray) -> torch.Tensor:
    rgb = torch.from_numpy(clip.astype(np.float64) / 255.0)
    luma = 0.299 * rgb[..., 0] + 0.587 * rgb[..., 1] + 0.114 * rgb[..., 2]
    return luma[:, None]
