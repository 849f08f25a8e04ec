"""Write frames to a video file with PyAV (H.264 in MP4), atomically."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ltx_pipelines.atomic import atomic_path


def write_video(path: str | Path, frames: np.ndarray, fps: float = 24.0, crf: int = 18) -> Path:
    """Encode F×H×W×3 uint8 ``frames`` to an H.264 MP4 at ``path`` (even sizes; yuv420p)."""
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected F×H×W×3 frames, got shape {frames.shape}")
    height, width = frames.shape[1:3]
    if width % 2 or height % 2:
        frames = frames[:, : height - height % 2, : width - width % 2]
        height, width = frames.shape[1:3]
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return Path(path)
