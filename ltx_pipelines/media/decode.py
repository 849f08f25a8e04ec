"""Decode a clip into a bucket: frames picked by timestamp, resized to cover, center-cropped."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np

from ltx_pipelines.config import Bucket
from ltx_pipelines.media.errors import MediaError


def cover_size(width: int, height: int, target_w: int, target_h: int) -> tuple[int, int]:
    """The smallest size with the source's aspect ratio that covers ``target_w``×``target_h``."""
    scale = max(target_w / width, target_h / height)
    return max(target_w, math.ceil(width * scale - 1e-6)), max(target_h, math.ceil(height * scale - 1e-6))


def center_crop(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Crop an H×W×C array to ``height``×``width`` around its center."""
    top = (image.shape[0] - height) // 2
    left = (image.shape[1] - width) // 2
    return image[top : top + height, left : left + width]


def decode_clip(path: str | Path, bucket: Bucket, fps: float | None = None, start: float = 0.0) -> np.ndarray:
    """``bucket.frames`` RGB frames (F×H×W×3 uint8) of the video at ``path`` from ``start`` seconds.

    With ``fps`` set, frame k is the source frame shown at time ``start + k/fps`` (chosen by timestamp,
    so variable frame rate sources resample correctly); otherwise consecutive frames are taken. Decoding
    stops as soon as the bucket is full. Raises :class:`MediaError` when the clip is too short or breaks.
    """
    path = Path(path)
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in _select_frames(container, stream, bucket.frames, fps, start):
                frames.append(_to_bucket(frame, bucket))
    except av.error.FFmpegError as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise MediaError(path, f"decoding failed after {len(frames)} frames ({reason})") from error
    if len(frames) < bucket.frames:
        raise MediaError(path, f"too short for bucket {bucket.label}: {len(frames)} of {bucket.frames} frames")
    return np.stack(frames)


def _select_frames(container, stream, count: int, fps: float | None, start: float) -> Iterator[av.VideoFrame]:
    if fps is None:
        for frame in container.decode(stream):
            if frame.time is not None and frame.time + 1e-9 < start:
                continue
            yield frame
            count -= 1
            if count == 0:
                return
        return
    targets = [start + k / fps for k in range(count)]
    index = 0
    previous: av.VideoFrame | None = None
    for frame in container.decode(stream):
        time = frame.time if frame.time is not None else 0.0
        # Emit the previous frame for every target time that falls before this frame's timestamp.
        while index < count and previous is not None and targets[index] < time - 1e-9:
            yield previous
            index += 1
        if index == count:
            return
        previous = frame
    while index < count and previous is not None:
        last_time = previous.time or 0.0
        frame_period = 1.0 / float(stream.average_rate or fps)
        if targets[index] >= last_time + frame_period - 1e-9:
            return  # past the end of the stream
        yield previous
        index += 1


def _to_bucket(frame: av.VideoFrame, bucket: Bucket) -> np.ndarray:
    width, height = cover_size(frame.width, frame.height, bucket.width, bucket.height)
    rgb = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA").to_ndarray()
    return np.ascontiguousarray(center_crop(rgb, bucket.width, bucket.height))
