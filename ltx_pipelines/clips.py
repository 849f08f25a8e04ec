"""Clip windows: which part of each source becomes a training clip, and in which bucket.

Without scene split a video gives one window from its start; with ``dataset.scenes.enabled`` PySceneDetect finds
the cuts and every scene long enough for a bucket becomes a window (at most ``max_clips_per_video``). Scene lists
are cached by content (``cache/scenes/<key>.json``), so adding a video runs detection on that video only.
Images are 1-frame clips and need a bucket with ``frames: 1``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ltx_pipelines.atomic import write_json
from ltx_pipelines.config import Bucket, DatasetSpec, SceneSpec
from ltx_pipelines.dataset import Quarantined, SourceClip
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.media.buckets import choose_bucket, frames_in_span
from ltx_pipelines.media.errors import MediaError
from ltx_pipelines.media.scenes import detect_scenes

STAGE = "video_clips"
CODE_VERSION = "clips-1"
SCENES_VERSION = "scenes-1"


@dataclass(frozen=True)
class MediaRef:
    """A media file a window reads: absolute path, content hash, display rotation, still image or not."""

    path: str
    sha256: str
    rotation: int = 0
    is_image: bool = False
    has_audio: bool = False


@dataclass(frozen=True)
class ClipWindow:
    """One training clip: a time window of a source, the bucket it fills, its given caption (if any)."""

    clip_id: str
    source: str
    media: MediaRef
    start: float
    seconds: float
    bucket: str
    width: int
    height: int
    frames: int
    caption: str | None = None
    reference: MediaRef | None = None
    frame_rate: float = 24.0  # the rate the window's frames are taken at (the recipe's fps or the source's)

    @property
    def key(self) -> str:
        """The window's content key: source bytes, where it starts, and the reference's bytes."""
        return cache_key(self.media.sha256, round(self.start, 4), self.reference.sha256 if self.reference else None)

    @property
    def bucket_spec(self) -> Bucket:
        return Bucket(width=self.width, height=self.height, frames=self.frames)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ClipWindow:
        reference = data.get("reference")
        return cls(
            **{**data, "media": MediaRef(**data["media"]), "reference": MediaRef(**reference) if reference else None}
        )


@dataclass
class ClipsResult:
    """Windows to decode, sources refused, and how many scene lists were detected vs. reused."""

    clips: list[ClipWindow] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    scenes_detected: int = 0
    scenes_reused: int = 0
    short_scenes_dropped: int = 0


def plan_clips(sources: Sequence[SourceClip], spec: DatasetSpec, scenes_cache: Path | None = None) -> ClipsResult:
    """Cut every source into bucket-sized windows; a source with no usable window is quarantined with the reason."""
    result = ClipsResult()
    for source in sources:
        try:
            result.clips.extend(_windows(source, spec, scenes_cache, result))
        except MediaError as error:
            result.quarantined.append(Quarantined(source.clip_id, error.reason, STAGE, error.detail))
    return result


def _windows(source: SourceClip, spec: DatasetSpec, scenes_cache: Path | None, result: ClipsResult) -> list[ClipWindow]:
    info = source.info
    if min(info.width, info.height) < spec.min_side:
        raise MediaError(source.path, f"too small: {info.width}x{info.height} < {spec.min_side}px")
    media = MediaRef(source.path, source.sha256, info.rotation, info.is_image, info.has_audio)
    reference = None
    if source.reference is not None:
        ref = source.reference
        reference = MediaRef(ref.path, ref.sha256, ref.info.rotation, ref.info.is_image)
    if info.is_image:
        stills = [b for b in spec.buckets if b.frames == 1]
        bucket = choose_bucket(info.width, info.height, 1, stills)
        if bucket is None:
            raise MediaError(source.path, "image needs a 1-frame bucket (add one with frames: 1)")
        return [_window(source.clip_id, source, media, reference, 0.0, 0.0, bucket, spec.fps or 24.0)]

    shortest = min(b.frames for b in spec.buckets)
    if not spec.scenes.enabled:
        usable = frames_in_span(info.duration, info.frame_count, info.fps, spec.fps)
        bucket = choose_bucket(info.width, info.height, usable, spec.buckets)
        if bucket is None:
            raise MediaError(source.path, f"too short: {usable} frames, the shortest bucket needs {shortest}")
        return [_window(source.clip_id, source, media, reference, 0.0, info.duration, bucket, spec.fps or info.fps)]

    windows: list[ClipWindow] = []
    longest = 0
    for start, end in _scenes(source, spec.scenes, scenes_cache, result):
        rate = spec.fps or info.fps
        usable = frames_in_span(end - start, round((end - start) * rate), rate, spec.fps)
        longest = max(longest, usable)
        bucket = choose_bucket(info.width, info.height, usable, spec.buckets)
        if bucket is None:
            result.short_scenes_dropped += 1
            continue
        clip_id = f"{source.clip_id}#scene-{len(windows) + 1:03d}"
        windows.append(_window(clip_id, source, media, reference, start, end - start, bucket, rate))
        if spec.scenes.max_clips_per_video and len(windows) == spec.scenes.max_clips_per_video:
            break
    if not windows:
        raise MediaError(
            source.path, f"too short: no scene fills a bucket (longest {longest} frames, the shortest needs {shortest})"
        )
    return windows


def _window(
    clip_id: str,
    source: SourceClip,
    media: MediaRef,
    reference: MediaRef | None,
    start: float,
    seconds: float,
    bucket: Bucket,
    frame_rate: float,
) -> ClipWindow:
    return ClipWindow(
        clip_id,
        source.clip_id,
        media,
        start,
        seconds,
        bucket.label,
        bucket.width,
        bucket.height,
        bucket.frames,
        source.caption,
        reference,
        frame_rate,
    )


def _scenes(source: SourceClip, spec: SceneSpec, cache: Path | None, result: ClipsResult) -> list[tuple[float, float]]:
    """The source's scenes, from the content-addressed cache when this file was analysed with these settings."""
    settings = {"threshold": spec.threshold, "min_scene_seconds": spec.min_scene_seconds}
    path = cache / f"{cache_key(source.sha256, settings, SCENES_VERSION)}.json" if cache else None
    if path is not None and path.exists():
        result.scenes_reused += 1
        return [tuple(span) for span in json.loads(path.read_text())["scenes"]]
    scenes = detect_scenes(source.path, spec)
    result.scenes_detected += 1
    if path is not None:
        write_json(path, {"source": source.clip_id, "scenes": scenes})
    return scenes
