"""Frame extraction: each clip decoded into its bucket and cached by content (``cache/frames/<key>``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from ltx_pipelines.config import DatasetSpec
from ltx_pipelines.dataset import Quarantined, SourceClip
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.media.audio import decode_audio
from ltx_pipelines.media.buckets import choose_bucket, frames_available
from ltx_pipelines.media.decode import decode_clip
from ltx_pipelines.media.errors import MediaError
from ltx_pipelines.models.family import AudioClip
from ltx_pipelines.tensors import load_tensors, save_tensors

CODE_VERSION = "frames-2"
AUDIO_SAMPLE_RATE = 48_000  # cached at full rate; each model family resamples to its own


@dataclass(frozen=True)
class FrameClip:
    """One clip's frames in the cache: F×H×W×3 uint8 under the key of (content, bucket, fps, code)."""

    clip_id: str
    key: str
    path: str
    bucket: str
    width: int
    height: int
    frames: int

    def to_dict(self) -> dict:
        return asdict(self)

    def load(self) -> np.ndarray:
        return load_tensors(self.path)["frames"].numpy()

    def load_audio(self) -> AudioClip | None:
        """The clip's sound over the same time span as its frames, if the source had an audio track."""
        tensors = load_tensors(self.path)
        if "audio" not in tensors:
            return None
        return AudioClip(tensors["audio"], AUDIO_SAMPLE_RATE)


@dataclass
class FramesResult:
    """The clips that made it into a bucket, the ones refused, and how many were decoded vs. reused."""

    clips: list[FrameClip] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    decoded: int = 0
    reused: int = 0


def frames_key(clip: SourceClip, bucket_label: str, fps: float | None) -> str:
    """The cache key of a clip's frames."""
    return cache_key(clip.sha256, bucket_label, fps, CODE_VERSION)


def extract_frames(
    clips: Sequence[SourceClip],
    spec: DatasetSpec,
    cache_dir: Path,
    on_clip: Callable[[int, int], None] | None = None,
) -> FramesResult:
    """Decode every clip into the bucket that suits it; clips that fit no bucket or break are quarantined."""
    result = FramesResult()
    for index, clip in enumerate(clips):
        usable = frames_available(clip.info.frame_count, clip.info.fps, spec.fps)
        bucket = choose_bucket(clip.info.width, clip.info.height, usable, spec.buckets)
        if bucket is None:
            shortest = min(b.frames for b in spec.buckets)
            result.quarantined.append(
                Quarantined(
                    clip.clip_id,
                    f"too short: {usable} frames, the shortest bucket needs {shortest}",
                    "video_frames",
                )
            )
            continue
        if min(clip.info.width, clip.info.height) < spec.min_side:
            result.quarantined.append(
                Quarantined(
                    clip.clip_id,
                    f"too small: {clip.info.width}x{clip.info.height} < {spec.min_side}px",
                    "video_frames",
                )
            )
            continue
        key = frames_key(clip, bucket.label, spec.fps)
        path = cache_dir / f"{key}.safetensors"
        if path.exists():
            result.reused += 1
        else:
            try:
                frames = decode_clip(clip.path, bucket, fps=spec.fps)
            except MediaError as error:
                result.quarantined.append(Quarantined(clip.clip_id, error.reason, "video_frames"))
                continue
            tensors = {"frames": torch.from_numpy(frames)}
            if clip.info.has_audio:
                duration = bucket.frames / (spec.fps or clip.info.fps)
                audio = decode_audio(clip.path, 0.0, duration, AUDIO_SAMPLE_RATE)
                if audio is not None:
                    tensors["audio"] = audio
            save_tensors(path, tensors, metadata={"clip_id": clip.clip_id})
            result.decoded += 1
        result.clips.append(
            FrameClip(clip.clip_id, key, str(path), bucket.label, bucket.width, bucket.height, bucket.frames)
        )
        if on_clip:
            on_clip(index + 1, len(clips))
    return result
