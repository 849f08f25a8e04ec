"""Sample videos for fixed prompts and seeds, base and adapter side by side (MP4s, a contact sheet and a GIF)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ltx_pipelines.atomic import atomic_path, write_bytes
from ltx_pipelines.evaluation.report import SamplePair
from ltx_pipelines.generation import Generator, save_clip
from ltx_pipelines.media.preview import contact_sheet
from ltx_pipelines.models.family import GenerationSettings


def render_comparison(
    generator: Generator,
    prompts: Sequence[str],
    seeds: Sequence[int],
    settings: GenerationSettings,
    out_dir: Path,
) -> tuple[list[SamplePair], dict[str, np.ndarray]]:
    """Render every (prompt, seed) with adapter scale 0 (the base) and 1; returns the pairs and all frames by path.

    Writes ``out_dir/<i>-<seed>-{base,adapter}.mp4``, ``out_dir/contact_sheet.png`` (rows: base, adapter per
    prompt) and ``out_dir/side_by_side.gif``.
    """
    pairs, frames = [], {}
    for index, prompt in enumerate(prompts):
        for seed in seeds:
            paths = {}
            for label, scale in (("base", 0.0), ("adapter", 1.0)):
                clip = generator(prompt, seed=seed, adapter_scale=scale)
                path = save_clip(out_dir / f"{index:02d}-{seed}-{label}.mp4", clip, settings.frame_rate)
                paths[label], frames[str(path)] = str(path), clip.frames
            pairs.append(SamplePair(prompt=prompt, seed=seed, base=paths["base"], adapter=paths["adapter"]))
    rows = [frames[p] for pair in pairs for p in (pair.base, pair.adapter)]
    write_bytes(out_dir / "contact_sheet.png", contact_sheet(rows, max_clips=len(rows)))
    _side_by_side_gif(out_dir / "side_by_side.gif", pairs, frames, settings.frame_rate)
    return pairs, frames


def _side_by_side_gif(path: Path, pairs: Sequence[SamplePair], frames: dict[str, np.ndarray], fps: float) -> None:
    """An animated GIF: one row per sample, base on the left, adapter on the right."""
    rows = [np.concatenate([frames[p.base], frames[p.adapter]], axis=2) for p in pairs]  # F×H×2W×3
    length = min(len(r) for r in rows)
    movie = np.concatenate([r[:length] for r in rows], axis=1)
    scale = max(1, 256 // movie.shape[2])
    images = [
        Image.fromarray(f).resize((f.shape[1] * scale, f.shape[0] * scale), Image.Resampling.NEAREST) for f in movie
    ]
    with atomic_path(path) as tmp:
        images[0].save(tmp, format="GIF", save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)
