"""Assign a clip to a training bucket: nearest aspect ratio, then the longest frame count it can fill."""

from __future__ import annotations

import math
from collections.abc import Sequence

from ltx_pipelines.config import Bucket


def frames_available(duration_frames: int, source_fps: float, target_fps: float | None) -> int:
    """How many frames a clip of ``duration_frames`` source frames yields at ``target_fps`` (its own rate when None)."""
    if not target_fps or not source_fps:
        return duration_frames
    return math.floor(duration_frames / source_fps * target_fps + 1e-6)


def frames_in_span(seconds: float, frame_count: int, source_fps: float, target_fps: float | None) -> int:
    """Frames a window of ``seconds`` yields: by timestamps at ``target_fps``, else the source frames it holds."""
    if target_fps:
        return math.floor(seconds * target_fps + 1e-6)
    return frame_count


def choose_bucket(width: int, height: int, frames: int, buckets: Sequence[Bucket]) -> Bucket | None:
    """The bucket for a clip of ``width``×``height`` with ``frames`` usable frames, or None if none fits.

    Among buckets whose frame count the clip can fill, the one nearest in log aspect ratio wins; ties go to
    the longest frame count, then the largest area.
    """
    fitting = [b for b in buckets if b.frames <= frames]
    if not fitting:
        return None
    aspect = math.log(width / height)
    return min(fitting, key=lambda b: (round(abs(math.log(b.aspect) - aspect), 6), -b.frames, -b.width * b.height))
