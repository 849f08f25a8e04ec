"""Pictures people look at: contact sheets of frames, as PNG bytes."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import numpy as np
from PIL import Image


def contact_sheet(clips: Sequence[np.ndarray], frames_per_clip: int = 4, max_clips: int = 12, cell: int = 96) -> bytes:
    """A PNG grid: one row per clip (up to ``max_clips``), ``frames_per_clip`` evenly spaced frames each."""
    rows = []
    for clip in list(clips)[:max_clips]:
        picks = np.linspace(0, len(clip) - 1, frames_per_clip).round().astype(int)
        tiles = [_fit(clip[i], cell) for i in picks]
        rows.append(np.concatenate(tiles, axis=1))
    if not rows:
        rows = [np.zeros((cell, cell * frames_per_clip, 3), dtype=np.uint8)]
    width = max(r.shape[1] for r in rows)
    rows = [np.pad(r, ((0, 0), (0, width - r.shape[1]), (0, 0))) for r in rows]
    buffer = io.BytesIO()
    Image.fromarray(np.concatenate(rows, axis=0)).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _fit(frame: np.ndarray, cell: int) -> np.ndarray:
    image = Image.fromarray(frame)
    scale = cell / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    tile = np.zeros((cell, cell, 3), dtype=np.uint8)
    resized = np.asarray(image.resize(size, Image.Resampling.NEAREST if scale >= 1 else Image.Resampling.BOX))
    top, left = (cell - size[1]) // 2, (cell - size[0]) // 2
    tile[top : top + size[1], left : left + size[0]] = resized
    return tile


def png_markdown(png: bytes, alt: str = "preview") -> str:
    """Markdown that shows ``png`` inline (a data URI): the way to put a picture into Dagster metadata."""
    return f"![{alt}](data:image/png;base64,{base64.b64encode(png).decode('ascii')})"
