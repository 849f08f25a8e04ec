"""Synthetic datasets: coloured shapes moving on backgrounds, each clip with a caption file beside it.

Four looks: ``plain`` (flat shapes on soft backgrounds), ``night`` (flat shapes on dark backgrounds) and ``outline``
(thin coloured outlines on white paper), the broad set the demo base model is pre-trained on, and ``neon`` (the
demo's target style: glowing outlines on a dark grid). Captions describe exactly what is drawn.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from ltx_pipelines.atomic import write_text
from ltx_pipelines.media.encode import write_video

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (235, 50, 50),
    "green": (40, 200, 70),
    "blue": (50, 90, 240),
    "yellow": (240, 220, 40),
    "magenta": (230, 50, 220),
    "cyan": (40, 220, 230),
}
SHAPES = ("circle", "square", "triangle")
MOTIONS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    "from left to right": ((0.2, 0.5), (0.8, 0.5)),
    "from right to left": ((0.8, 0.5), (0.2, 0.5)),
    "from top to bottom": ((0.5, 0.2), (0.5, 0.8)),
    "from bottom to top": ((0.5, 0.8), (0.5, 0.2)),
}
STYLES = ("plain", "outline", "night", "neon")
STYLE_PHRASES = {
    "plain": "on a soft background, flat colours",
    "outline": "on white paper, thin outline",
    "night": "on a dark background, flat colours",
    "neon": "on a dark grid, glowing neon outline",
}
TONES = {"circle": ("a low hum", 220.0), "square": ("a steady beep", 440.0), "triangle": ("a high whistle", 880.0)}
AUDIO_RATE = 48_000


@dataclass(frozen=True)
class ClipSpec:
    """One synthetic clip: what is drawn and how it moves."""

    shape: str
    colour: str
    motion: str
    style: str

    @property
    def caption(self) -> str:
        return f"a {self.colour} {self.shape} moving {self.motion} {STYLE_PHRASES[self.style]}"

    @property
    def sound_caption(self) -> str:
        return f"{self.caption}, with {TONES[self.shape][0]}"

    @property
    def stem(self) -> str:
        motion = self.motion.replace("from ", "").replace(" to ", "-")
        return f"{self.style}_{self.colour}_{self.shape}_{motion}"


def render_clip(spec: ClipSpec, width: int = 96, height: int = 64, frames: int = 24, seed: int = 0) -> np.ndarray:
    """F×H×W×3 uint8 frames of ``spec``; ``seed`` varies the size and speed slightly."""
    rng = np.random.default_rng(seed)
    radius = min(width, height) * rng.uniform(0.16, 0.22)
    (x0, y0), (x1, y1) = MOTIONS[spec.motion]
    jitter = rng.uniform(-0.05, 0.05, size=2)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    colour = np.array(COLOURS[spec.colour], dtype=np.float32)
    background = _background(spec.style, width, height, xs, ys, rng)
    out = np.empty((frames, height, width, 3), dtype=np.uint8)
    for t in range(frames):
        a = t / max(frames - 1, 1)
        cx = ((1 - a) * x0 + a * x1 + jitter[0]) * width
        cy = ((1 - a) * y0 + a * y1 + jitter[1]) * height
        distance = _shape_distance(spec.shape, xs - cx, ys - cy, radius)
        if spec.style in ("plain", "night"):
            alpha = np.clip(0.5 - distance, 0.0, 1.0)[..., None]
        elif spec.style == "outline":  # a thin line along the boundary, nothing inside
            alpha = np.clip(1.2 - np.abs(distance), 0.0, 1.0)[..., None]
        else:  # neon: bright ring at the boundary with a soft glow
            alpha = np.clip(np.exp(-(distance**2) / 2.0) + 0.35 * np.exp(-np.abs(distance) / 4.0), 0.0, 1.0)
            alpha = alpha[..., None]
        out[t] = np.clip(background * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)
    return out


def render_sound(spec: ClipSpec, seconds: float, sample_rate: int = AUDIO_RATE) -> np.ndarray:
    """2×samples float32: the shape's tone, panned to follow the horizontal motion."""
    time = np.arange(round(seconds * sample_rate)) / sample_rate
    tone = 0.4 * np.sin(2 * np.pi * TONES[spec.shape][1] * time)
    (x0, _), (x1, _) = MOTIONS[spec.motion]
    pan = x0 + (x1 - x0) * time / max(seconds, 1e-9)  # 0 = left, 1 = right
    return np.stack([tone * (1 - pan), tone * pan]).astype(np.float32)


def _background(style: str, width: int, height: int, xs: np.ndarray, ys: np.ndarray, rng) -> np.ndarray:
    if style == "plain":
        top = rng.uniform(170, 230, size=3)
        bottom = rng.uniform(120, 200, size=3)
        mix = (ys / max(height - 1, 1))[..., None]
        return (1 - mix) * top + mix * bottom
    if style == "night":
        top = rng.uniform(10, 45, size=3)
        bottom = rng.uniform(25, 70, size=3)
        mix = (ys / max(height - 1, 1))[..., None]
        return (1 - mix) * top + mix * bottom
    if style == "outline":
        return np.broadcast_to(rng.uniform(225, 250, size=3) - np.array([0.0, 4.0, 12.0]), (height, width, 3))
    grid = ((xs.astype(int) % 16 == 0) | (ys.astype(int) % 16 == 0)).astype(np.float32)[..., None]
    return np.array([12.0, 10.0, 28.0]) + grid * np.array([30.0, 30.0, 70.0])


def _shape_distance(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Signed distance (pixels) to the shape's outline: negative inside."""
    if shape == "circle":
        return np.sqrt(dx**2 + dy**2) - r
    if shape == "square":
        return np.maximum(np.abs(dx), np.abs(dy)) - r * 0.85
    # upward triangle: intersection of three half-planes
    edges = [
        dy - r * 0.7,
        -0.866 * dx - 0.5 * dy - r * 0.55,
        0.866 * dx - 0.5 * dy - r * 0.55,
    ]
    return np.maximum.reduce(edges)


def clip_specs(style: str, count: int, seed: int = 0) -> list[ClipSpec]:
    """``count`` distinct clip specs in ``style``, in a seeded order that covers shapes, colours and motions."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; choose one of {STYLES}")
    combos = [ClipSpec(s, c, m, style) for s, c, m in itertools.product(SHAPES, COLOURS, MOTIONS)]
    order = np.random.default_rng(seed).permutation(len(combos))
    if count > len(combos):
        raise ValueError(f"at most {len(combos)} distinct clips per style, asked for {count}")
    return [combos[i] for i in order[:count]]


def write_dataset(
    directory: str | Path,
    count: int = 16,
    style: str = "neon",
    seed: int = 0,
    width: int = 96,
    height: int = 64,
    frames: int = 24,
    fps: float = 24.0,
    audio: bool = False,
) -> list[Path]:
    """Write ``count`` clips (MP4 + same-name .txt caption) into ``directory``; returns the video paths.

    With ``audio`` each clip carries its shape's tone (and the caption says so), for audio + video models.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, spec in enumerate(clip_specs(style, count, seed)):
        video = directory / f"{spec.stem}.mp4"
        pixels = render_clip(spec, width, height, frames, seed=seed * 1000 + index)
        sound = render_sound(spec, frames / fps) if audio else None
        _write_clip(video, pixels, fps, sound)
        write_text(video.with_suffix(".txt"), (spec.sound_caption if audio else spec.caption) + "\n")
        paths.append(video)
    return paths


def _write_clip(path: Path, pixels: np.ndarray, fps: float, sound: np.ndarray | None = None) -> None:
    """Encode the clip unless ``path`` already holds these very frames and sound (its ``comment`` tag carries
    their hash). The encoder's bytes can differ from run to run for the same frames; keeping an unchanged clip
    keeps its content hash, so writing the demo dataset again does not make the caches see a new clip."""
    digest = hashlib.sha256(pixels.tobytes() + (b"" if sound is None else sound.tobytes()))
    digest.update(f"{fps}".encode())
    tag = f"ltx-pipelines demo clip {digest.hexdigest()}"
    if path.is_file():
        with contextlib.suppress(av.error.FFmpegError, OSError), av.open(str(path)) as existing:
            if existing.metadata.get("comment") == tag:
                return
    write_video(path, pixels, fps=fps, audio=sound, sample_rate=AUDIO_RATE, metadata={"comment": tag})


def write_pairs(
    directory: str | Path,
    count: int = 12,
    seed: int = 0,
    width: int = 96,
    height: int = 64,
    frames: int = 24,
    fps: float = 24.0,
) -> list[Path]:
    """IC-LoRA pairs for a synthetic transform: ``NAME.ref.mp4`` (a plain clip) and ``NAME.mp4`` (its colours
    inverted), with a caption; an adapter must learn to turn any reference into its negative."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    targets = []
    for index, spec in enumerate(clip_specs("plain", count, seed)):
        reference = render_clip(spec, width, height, frames, seed=seed * 1000 + index)
        target = directory / f"{spec.stem}.mp4"
        _write_clip(directory / f"{spec.stem}.ref.mp4", reference, fps)
        _write_clip(target, 255 - reference, fps)
        write_text(target.with_suffix(".txt"), f"{spec.caption}, colours inverted\n")
        targets.append(target)
    return targets


DEMO_BASE_MODEL = "demo-ltx-video"
DEMO_CLIP = {"width": 32, "height": 32, "frames": 9}  # the demo's clips and its one bucket: small, so CPUs train it
PRIOR_FOLDER = ".prior"  # hidden: the dataset scan skips it, the evaluation reads it as the prior set


def demo_recipe(base_model: str = DEMO_BASE_MODEL) -> dict:
    """The demo's ``ltx.yaml``: a neon LoRA over the pre-trained demo base, scored on held-out neon clips and on a
    prior set of the base's own styles (forgetting), with one neon and one plain sample prompt. The LoRA is on the
    cross-attention keys and values (how captions are read) at a gentle learning rate, which moves the neon clips'
    loss most for the least change elsewhere."""
    return {
        "base_model": base_model,
        "dataset": {"buckets": [DEMO_CLIP]},
        "lora": {"rank": 16, "alpha": 16, "target_modules": ["attn2.to_k", "attn2.to_v"]},
        "training": {"steps": 300, "learning_rate": 1.5e-4},
        "evaluation": {
            "prior_clips": PRIOR_FOLDER,
            # The demo transformer has ~190k parameters: learning a style costs it more elsewhere than a real base (the
            # demo measures ~4.5% on the prior set). The gate allows 10% here; real recipes keep the default 5%.
            "prior_tolerance": 0.1,
            "prompts": [
                ClipSpec("circle", "magenta", "from left to right", "neon").caption,
                ClipSpec("square", "yellow", "from top to bottom", "plain").caption,
            ],
        },
    }


def write_demo_dataset(directory: str | Path, count: int = 40, prior_count: int = 4, seed: int = 0) -> list[Path]:
    """The ``make demo`` dataset: ``count`` neon clips, a prior set of ``prior_count`` clips per other style in
    ``.prior/`` and the demo recipe as ``ltx.yaml``; returns the neon clips' paths."""
    import yaml

    directory = Path(directory)
    paths = write_dataset(directory, count=count, style="neon", seed=seed, **DEMO_CLIP)
    others = [s for s in STYLES if s != "neon"]
    for index, style in enumerate(others):
        write_dataset(directory / PRIOR_FOLDER, count=prior_count, style=style, seed=seed + 100 + index, **DEMO_CLIP)
    write_text(directory / "ltx.yaml", yaml.safe_dump(demo_recipe(), sort_keys=False))
    return paths
