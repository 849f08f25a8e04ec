"""Decode a clip window into a bucket: seek to the start, pick frames by timestamp, resize to cover, center-crop.

Decoding streams: frames are scaled as they come out of the (threaded) decoder and only the bucket's frames are
kept, so memory does not grow with the length of the video, and decoding stops once the bucket is full. Decoding
runs a few frames ahead on a worker thread while the caller scales (both release the GIL), so the two overlap the
way the ffmpeg command line overlaps its decoder and filter threads.
"""

from __future__ import annotations

import contextlib
import math
import queue
import threading
from collections.abc import Iterator
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter
from PIL import Image, ImageOps

from ltx_pipelines.config import Bucket
from ltx_pipelines.media.errors import MediaError

# Timestamps closer than this (seconds) count as equal: absorbs rounding in container time bases.
_EPSILON = 1e-4
# Decoded frames held ahead of the scaler: bounded, so memory stays flat.
PREFETCH_FRAMES = 8


def cover_size(width: int, height: int, target_w: int, target_h: int) -> tuple[int, int]:
    """The smallest size with the source's aspect ratio that covers ``target_w``×``target_h``."""
    scale = max(target_w / width, target_h / height)
    return max(target_w, math.ceil(width * scale - 1e-6)), max(target_h, math.ceil(height * scale - 1e-6))


def center_crop(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Crop an H×W×C array to ``height``×``width`` around its center."""
    top = (image.shape[0] - height) // 2
    left = (image.shape[1] - width) // 2
    return image[top : top + height, left : left + width]


def decode_clip(
    path: str | Path,
    bucket: Bucket,
    fps: float | None = None,
    start: float = 0.0,
    rotation: int = 0,
) -> np.ndarray:
    """``bucket.frames`` RGB frames (F×H×W×3 uint8) of the video at ``path`` from ``start`` seconds.

    With ``fps`` set, frame k is the source frame on screen at time ``start + k/fps`` (chosen by timestamp, so
    variable frame rate sources resample correctly); otherwise consecutive frames are taken. ``rotation`` (the
    display rotation in degrees, counter-clockwise) is applied. Raises :class:`MediaError` when the clip is too
    short or breaks.
    """
    path = Path(path)
    clip = np.empty((bucket.frames, bucket.height, bucket.width, 3), dtype=np.uint8)  # filled in place: no copies
    count = 0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            scaler = VideoReformatter()  # one scaler per clip: FFmpeg reuses its context frame to frame
            # closing(): the decode worker stops before the container closes, even when the bucket fills early.
            with contextlib.closing(prefetched(_decode_from(container, stream, start))) as decoded:
                for frame in _select_frames(decoded, bucket.frames, fps, start, stream):
                    clip[count] = to_bucket(frame, bucket, rotation, scaler)
                    count += 1
    except av.error.FFmpegError as error:
        # The frame count goes into the detail: with threaded decoding it varies with the machine's cores.
        message = getattr(error, "strerror", None) or str(error)
        raise MediaError(path, "unreadable: video does not decode", f"after {count} frames: {message}") from error
    if count < bucket.frames:
        raise MediaError(path, f"too short for bucket {bucket.label}: {count} of {bucket.frames} frames")
    return clip


def decode_image(path: str | Path, bucket: Bucket) -> np.ndarray:
    """A still image as a 1×H×W×3 clip in ``bucket``'s size (EXIF orientation applied)."""
    try:
        with Image.open(path) as image:
            upright = ImageOps.exif_transpose(image).convert("RGB")
    except OSError as error:
        raise MediaError(path, "unreadable: image does not decode", str(error)) from error
    width, height = cover_size(upright.width, upright.height, bucket.width, bucket.height)
    resized = np.array(upright.resize((width, height), Image.Resampling.BOX))
    return np.ascontiguousarray(center_crop(resized, bucket.width, bucket.height))[None].copy()


def iter_video_frames(
    path: str | Path, width: int, height: int, interpolation: str = "BILINEAR"
) -> Iterator[np.ndarray]:
    """Every frame of a video scaled to ``width``×``height`` RGB, one at a time (threaded decode)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        scaler = VideoReformatter()
        with contextlib.closing(prefetched(container.decode(stream))) as decoded:
            for frame in decoded:
                yield scaler.reformat(frame, width, height, "rgb24", interpolation=interpolation).to_ndarray()


def to_bucket(
    frame: av.VideoFrame, bucket: Bucket, rotation: int = 0, scaler: VideoReformatter | None = None
) -> np.ndarray:
    """One decoded frame, rotated upright, scaled to cover the bucket and center-cropped (H×W×3 uint8).

    Scaling happens in FFmpeg's swscale on the stored orientation (directly to RGB), then the small result is
    rotated with NumPy, so rotation costs almost nothing.
    """
    turns = round(rotation / 90) % 4
    display_w, display_h = (frame.height, frame.width) if turns % 2 else (frame.width, frame.height)
    width, height = cover_size(display_w, display_h, bucket.width, bucket.height)
    stored_w, stored_h = (height, width) if turns % 2 else (width, height)
    scaled = (scaler or VideoReformatter()).reformat(frame, stored_w, stored_h, "rgb24", interpolation="AREA")
    rgb = scaled.to_ndarray()
    if turns:
        rgb = np.rot90(rgb, k=turns)
    return np.ascontiguousarray(center_crop(rgb, bucket.width, bucket.height))


def _decode_from(container, stream, start: float) -> Iterator[av.VideoFrame]:
    """Frames from the keyframe at or before ``start`` (a seek when ``start`` is past the beginning)."""
    if start > 0 and stream.time_base:
        offset = stream.start_time or 0
        container.seek(offset + int(start / stream.time_base), stream=stream, backward=True)
    return container.decode(stream)


def _select_frames(
    decoded: Iterator[av.VideoFrame], count: int, fps: float | None, start: float, stream
) -> Iterator[av.VideoFrame]:
    origin = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
    if fps is None:
        for frame in decoded:
            if _time(frame, origin) + _EPSILON < start:
                continue
            yield frame
            count -= 1
            if count == 0:
                return
        return
    targets = [start + k / fps for k in range(count)]
    index = 0
    previous: av.VideoFrame | None = None
    for frame in decoded:
        time = _time(frame, origin)
        # Emit the previous frame for every target time that falls before this frame's timestamp.
        while index < count and previous is not None and targets[index] < time - _EPSILON:
            yield previous
            index += 1
        if index == count:
            return
        previous = frame
    while index < count and previous is not None:
        last_time = _time(previous, origin)
        frame_period = 1.0 / float(stream.average_rate or fps)
        if targets[index] >= last_time + frame_period - _EPSILON:
            return  # past the end of the stream
        yield previous
        index += 1


def _time(frame: av.VideoFrame, origin: float) -> float:
    """A frame's presentation time relative to the stream's start."""
    return (frame.time - origin) if frame.time is not None else 0.0


def prefetched(frames: Iterator[av.VideoFrame], depth: int = PREFETCH_FRAMES) -> Iterator[av.VideoFrame]:
    """``frames`` decoded up to ``depth`` ahead on a worker thread. Close the returned generator (``closing()``)
    before the container: that stops and joins the worker."""
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for frame in frames:
                if not offer(frame):
                    return
            offer(end)
        except Exception as error:  # handed to the consumer, raised there
            offer(error)

    worker = threading.Thread(target=produce, name="ltx-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = ready.get()
            if item is end:
                return
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()
