"""Write frames (and optionally sound) to an MP4 with PyAV: H.264 video, AAC audio, atomically."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ltx_pipelines.atomic import atomic_path


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: float = 24.0,
    crf: int = 18,
    audio: np.ndarray | None = None,
    sample_rate: int = 48_000,
    metadata: dict[str, str] | None = None,
) -> Path:
    """Encode F×H×W×3 uint8 ``frames`` (even sizes; yuv420p) and optional channels×samples float ``audio``;
    ``metadata`` goes into the container's tags."""
    frames = np.asarray(frames, dtype=np.uint8)
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"expected F×H×W×3 frames, got shape {frames.shape}")
    height, width = frames.shape[1:3]
    frames = frames[:, : height - height % 2, : width - width % 2]
    with atomic_path(path) as tmp, av.open(str(tmp), mode="w", format="mp4") as container:
        container.metadata.update(metadata or {})
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        stream.options = {"crf": str(crf), "preset": "veryfast"}
        sound = None
        if audio is not None:
            sound = container.add_stream("aac", rate=sample_rate, layout="stereo" if audio.shape[0] == 2 else "mono")
        for image in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            _encode_audio(container, sound, audio, sample_rate)
    return Path(path)


def _encode_audio(container, stream, audio: np.ndarray, sample_rate: int) -> None:
    layout = "stereo" if audio.shape[0] == 2 else "mono"
    chunk = stream.codec_context.frame_size or 1024
    samples = np.ascontiguousarray(np.clip(audio, -1.0, 1.0), dtype=np.float32)
    for start in range(0, samples.shape[1], chunk):
        frame = av.AudioFrame.from_ndarray(samples[:, start : start + chunk], format="fltp", layout=layout)
        frame.sample_rate = sample_rate
        frame.pts = start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode(None):
        container.mux(packet)
