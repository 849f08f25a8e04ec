"""Does a generated clip follow its instruction? A programmatic check for the synthetic vocabulary
(``demo_data``): the colour of the moving shape and its direction of motion."""

from __future__ import annotations

import numpy as np

from ltx_pipelines.demo_data import COLOURS, MOTIONS


def expected(prompt: str) -> tuple[str | None, str | None]:
    """The colour and motion a prompt asks for (None where it names none)."""
    colour = next((c for c in COLOURS if f" {c} " in f" {prompt} "), None)
    motion = next((m for m in MOTIONS if m in prompt), None)
    return colour, motion


def observed(clip: np.ndarray) -> tuple[str, str]:
    """The colour of the moving shape and its direction (the shift of the moving pixels' centroid).

    The background is each pixel's median over time (the shape moves through it); the shape's colour is the
    chromaticity of its most distinct pixels, matched to the named colours by angle (robust to glow and shade).
    """
    pixels_f = clip.astype(np.float64)
    background = np.median(pixels_f, axis=0)  # H×W×3
    distance = np.linalg.norm(pixels_f - background, axis=-1)  # F×H×W
    mask = distance > max(30.0, np.percentile(distance, 95))
    strongest = pixels_f[mask][np.argsort(distance[mask])[-max(1, mask.sum() // 4) :]] if mask.any() else pixels_f
    mean = strongest.reshape(-1, 3).mean(axis=0)
    colour = max(COLOURS, key=lambda name: _cosine(mean, np.array(COLOURS[name], dtype=np.float64)))
    first, last = _centroid(mask[: max(1, len(clip) // 3)]), _centroid(mask[-max(1, len(clip) // 3) :])
    dx, dy = last[0] - first[0], last[1] - first[1]
    if abs(dx) >= abs(dy):
        motion = "from left to right" if dx > 0 else "from right to left"
    else:
        motion = "from top to bottom" if dy > 0 else "from bottom to top"
    return colour, motion


def follows(clip: np.ndarray, prompt: str) -> bool:
    """True when the clip shows the colour and the motion the prompt names."""
    want_colour, want_motion = expected(prompt)
    colour, motion = observed(clip)
    return (want_colour is None or colour == want_colour) and (want_motion is None or motion == want_motion)


def adherence(clips: list[np.ndarray], prompts: list[str]) -> float:
    """The fraction of clips that follow their prompts."""
    return sum(follows(c, p) for c, p in zip(clips, prompts, strict=True)) / max(len(clips), 1)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-9))


def _centroid(mask: np.ndarray) -> tuple[float, float]:
    _, ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return mask.shape[2] / 2, mask.shape[1] / 2
    return float(xs.mean()), float(ys.mean())
