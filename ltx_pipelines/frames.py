"""Frame extraction: each clip window decoded into its bucket and cached by content (``cache/frames/<key>``).

The safetensors file holds ``frames`` (F×H×W×3 uint8), for IC-LoRA pairs ``reference_frames`` decoded from the
same window of the reference, and for sources with sound ``audio`` (channels×samples at 48 kHz) over the same
time span as the frames. Windows decode concurrently on a few threads (PyAV releases the GIL), each
with FFmpeg's own threaded decoder.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ltx_pipelines.clips import ClipWindow, MediaRef
from ltx_pipelines.config import Bucket, DatasetSpec
from ltx_pipelines.dataset import Quarantined
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.media.audio import decode_audio
from ltx_pipelines.media.decode import decode_clip, decode_image
from ltx_pipelines.media.errors import MediaError
from ltx_pipelines.models.family import AudioClip
from ltx_pipelines.tensors import load_tensors, save_tensors

STAGE = "video_frames"
CODE_VERSION = "frames-3"
AUDIO_SAMPLE_RATE = 48_000  # cached at full rate; each model family resamples to its own


@dataclass(frozen=True)
class FrameClip:
    """One clip's frames in the cache: F×H×W×3 uint8 under the key of (window, bucket, fps, code)."""

    clip_id: str
    key: str
    path: str
    bucket: str
    width: int
    height: int
    frames: int
    source: str = ""
    start: float = 0.0
    has_reference: bool = False
    frame_rate: float = 24.0

    def to_dict(self) -> dict:
        return asdict(self)

    def load(self) -> np.ndarray:
        return load_tensors(self.path)["frames"].numpy()

    def load_audio(self) -> AudioClip | None:
        """The clip's sound over the same time span as its frames, if the source had an audio track."""
        tensors = load_tensors(self.path)
        return AudioClip(tensors["audio"], AUDIO_SAMPLE_RATE) if "audio" in tensors else None

    def load_reference(self) -> np.ndarray | None:
        """The reference clip's frames (IC-LoRA pairs), or None."""
        tensors = load_tensors(self.path)
        return tensors["reference_frames"].numpy() if "reference_frames" in tensors else None


@dataclass
class FramesResult:
    """The clips that made it into a bucket, the ones refused, and how many were decoded vs. reused."""

    clips: list[FrameClip] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    decoded: int = 0
    reused: int = 0


def frames_key(window: ClipWindow, fps: float | None) -> str:
    """The cache key of a window's frames."""
    return cache_key(window.key, window.bucket, fps, CODE_VERSION)


def extract_frames(
    windows: Sequence[ClipWindow],
    spec: DatasetSpec,
    cache_dir: Path,
    on_clip: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> FramesResult:
    """Decode every window missing from the cache into its bucket; windows that fail to decode are quarantined."""
    result = FramesResult()
    keys = [frames_key(w, spec.fps) for w in windows]
    missing = [i for i, key in enumerate(keys) if not (cache_dir / f"{key}.safetensors").exists()]
    errors: dict[int, MediaError] = {}

    def work(index: int) -> None:
        window = windows[index]
        try:
            tensors = {"frames": _decode(window.media, window, spec.fps)}
            if window.reference is not None:
                try:
                    tensors["reference_frames"] = _decode(window.reference, window, spec.fps)
                except MediaError as error:
                    raise MediaError(error.path, f"reference: {error.reason}", error.detail) from error
            if window.media.has_audio and not window.media.is_image:
                audio = decode_audio(
                    window.media.path, window.start, window.frames / window.frame_rate, AUDIO_SAMPLE_RATE
                )
                if audio is not None:
                    tensors["audio"] = audio.numpy()
        except MediaError as error:
            errors[index] = error
            return
        save_tensors(
            cache_dir / f"{keys[index]}.safetensors",
            {name: torch.from_numpy(array) for name, array in tensors.items()},
            metadata={"clip_id": window.clip_id, "bucket": window.bucket},
        )

    with ThreadPoolExecutor(max_workers=workers or min(4, os.cpu_count() or 1)) as pool:
        for done, _ in enumerate(pool.map(work, missing), start=1):
            if on_clip:
                on_clip(done, len(missing))
    result.decoded = len(missing) - len(errors)
    result.reused = len(windows) - len(missing)
    for index, (window, key) in enumerate(zip(windows, keys, strict=True)):
        if index in errors:
            error = errors[index]
            result.quarantined.append(Quarantined(window.clip_id, error.reason, STAGE, error.detail))
            continue
        result.clips.append(
            FrameClip(
                window.clip_id,
                key,
                str(cache_dir / f"{key}.safetensors"),
                window.bucket,
                window.width,
                window.height,
                window.frames,
                window.source,
                window.start,
                window.reference is not None,
                window.frame_rate,
            )
        )
    return result


def _decode(media: MediaRef, window: ClipWindow, fps: float | None) -> np.ndarray:
    bucket = Bucket(width=window.width, height=window.height, frames=window.frames)
    if media.is_image:
        frames = decode_image(media.path, bucket)
        return np.repeat(frames, bucket.frames, axis=0) if bucket.frames > 1 else frames
    return decode_clip(media.path, bucket, fps=fps, start=window.start, rotation=media.rotation)
