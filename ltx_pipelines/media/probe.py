"""Probe a media file: PyAV for video containers, Pillow for still images. Bad files raise :class:`MediaError`.

Reasons are stable strings (the quarantine table shows them and tests assert them); FFmpeg's own wording goes
into ``detail``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from ltx_pipelines.media.errors import MediaError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp"})
# FFmpeg's demuxers for a single still image: such a file is probed (and later decoded) as an image by content.
_IMAGE_DEMUXERS = ("_pipe", "image2")
# The first bytes of the containers we read: a file that starts like one but does not open is damaged, not foreign.
_SIGNATURES = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"), (0, b"RIFF"), (4, b"moov"), (4, b"mdat"), (4, b"wide"))


@dataclass(frozen=True)
class MediaInfo:
    """What a clip offers. ``width``×``height`` is the display size (rotation applied); images have 1 frame."""

    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    codec: str
    has_audio: bool
    rotation: int = 0
    pix_fmt: str = ""
    is_image: bool = False
    start_time: float = 0.0
    variable_frame_rate: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> MediaInfo:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def probe_media(path: str | Path, max_pixels: int | None = None) -> MediaInfo:
    """Facts about a video or image file, or :class:`MediaError` with the reason it cannot be used.

    A frame larger than ``max_pixels`` (width × height) is refused from the header, before anything is decoded.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    _check_readable(path)
    if path.suffix.lower() in IMAGE_SUFFIXES:
        return probe_image(path, max_pixels)
    return probe_video(path, max_pixels)


def probe_image(path: str | Path, max_pixels: int | None = None) -> MediaInfo:
    """A still image as a 1-frame clip (EXIF orientation applied), fully decoded to catch truncation."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            codec = (image.format or "image").lower()
            _check_pixels(path, *image.size, max_pixels)
            image.load()
            upright = ImageOps.exif_transpose(image)
            width, height = upright.size
    except UnidentifiedImageError as error:
        raise MediaError(path, "not a media file", str(error)) from error
    except Image.DecompressionBombError as error:
        raise MediaError(path, "too large: over Pillow's decompression bomb limit", str(error)) from error
    except (OSError, SyntaxError, ValueError) as error:
        raise MediaError(path, "unreadable: image does not decode", str(error)) from error
    return MediaInfo(width, height, 0.0, 1, 0.0, codec, False, pix_fmt="rgb24", is_image=True)


def probe_video(path: str | Path, max_pixels: int | None = None) -> MediaInfo:
    """Facts about a video file, or :class:`MediaError` with the reason it cannot be used.

    Every video packet is demuxed (cheap: nothing is decoded) so a truncated file shows up as fewer packets
    than the container promises and the duration comes from timestamps (right for variable frame rate);
    the first frame is decoded to prove the stream is readable and to read its rotation. A still image in a
    video's name (a PNG called ``.mp4``) is probed as the image it is.
    """
    path = Path(path)
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.InvalidDataError as error:
        reason = "unreadable: damaged or incomplete container" if _has_container_signature(path) else "not a media file"
        raise MediaError(path, reason, _ffmpeg_message(error)) from error
    except (av.error.FFmpegError, OSError) as error:
        raise MediaError(path, "unreadable: cannot open", _ffmpeg_message(error)) from error
    with container:
        if container.format.name.endswith(_IMAGE_DEMUXERS):
            return probe_image(path, max_pixels)
        if not container.streams.video:
            raise MediaError(path, "no video stream (audio only)" if container.streams.audio else "no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None:
            raise MediaError(path, "unsupported codec: FFmpeg has no decoder for the video stream")
        _check_pixels(path, stream.codec_context.width, stream.codec_context.height, max_pixels)
        has_audio = bool(container.streams.audio)
        nominal_fps = float(stream.average_rate or stream.guessed_rate or 0) or 0.0
        codec = stream.codec_context.name
        promised = _promised_frames(stream, container, nominal_fps)
        timing = _demux_timing(path, container, stream)
        if timing.packets == 0:
            raise MediaError(path, "unreadable: video stream has no packets")
        intact = timing.packets - timing.corrupt
        if promised and timing.packets < promised * 0.98 - 1:
            raise MediaError(path, f"truncated: {intact} of {promised} video frames present")
        if timing.corrupt:
            raise MediaError(path, f"unreadable: {timing.corrupt} corrupt video packet(s)")
        first = _first_frame(path, container)
        rotation = _quarter_turns(first.rotation) * 90
        width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        pix_fmt = first.format.name
    duration = timing.duration or (timing.packets / nominal_fps if nominal_fps else 0.0)
    fps = nominal_fps or (timing.packets / duration if duration else 0.0)
    return MediaInfo(
        width,
        height,
        fps,
        timing.packets,
        duration,
        codec,
        has_audio,
        rotation=rotation,
        pix_fmt=pix_fmt,
        start_time=timing.start,
        variable_frame_rate=timing.variable,
    )


@dataclass
class _Timing:
    packets: int = 0
    corrupt: int = 0
    start: float = 0.0
    duration: float = 0.0
    variable: bool = False


def _promised_frames(stream: av.video.stream.VideoStream, container: av.container.InputContainer, fps: float) -> int:
    if stream.frames:
        return int(stream.frames)
    if stream.duration and stream.time_base and fps:
        return math.floor(float(stream.duration * stream.time_base) * fps + 0.5)
    if container.duration and fps:
        return math.floor(container.duration / av.time_base * fps + 0.5)
    return 0


def _demux_timing(path: Path, container: av.container.InputContainer, stream) -> _Timing:
    """Count packets and find the presentation span; a spread of packet durations marks variable frame rate."""
    timing = _Timing()
    first_pts = last_end = None
    durations: set[int] = set()
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's flush packet
                continue
            timing.packets += 1
            timing.corrupt += bool(packet.is_corrupt)
            if packet.pts is None:
                continue
            first_pts = packet.pts if first_pts is None else min(first_pts, packet.pts)
            end = packet.pts + (packet.duration or 0)
            last_end = end if last_end is None else max(last_end, end)
            if packet.duration and len(durations) < 3:
                durations.add(packet.duration)
    except av.error.FFmpegError as error:
        raise MediaError(path, f"unreadable after {timing.packets} packets", _ffmpeg_message(error)) from error
    if first_pts is not None and last_end is not None and stream.time_base:
        timing.start = float(first_pts * stream.time_base)
        timing.duration = float((last_end - first_pts) * stream.time_base)
    timing.variable = len(durations) > 1
    container.seek(0)
    return timing


def _first_frame(path: Path, container: av.container.InputContainer) -> av.VideoFrame:
    try:
        for frame in container.decode(video=0):
            return frame
    except av.error.FFmpegError as error:
        raise MediaError(path, "unreadable: video does not decode", _ffmpeg_message(error)) from error
    raise MediaError(path, "unreadable: no decodable video frames")


def _check_readable(path: Path) -> None:
    try:
        with open(path, "rb"):
            pass
    except PermissionError as error:
        raise MediaError(path, "unreadable: permission denied") from error
    except OSError as error:
        raise MediaError(path, "unreadable: cannot open", str(error)) from error


def _check_pixels(path: Path, width: int, height: int, max_pixels: int | None) -> None:
    if max_pixels and width * height > max_pixels:
        raise MediaError(path, f"too large: {width}x{height} > {max_pixels} pixels (dataset.max_pixels)")


def _has_container_signature(path: Path) -> bool:
    with open(path, "rb") as handle:
        head = handle.read(16)
    return any(head[offset : offset + len(magic)] == magic for offset, magic in _SIGNATURES)


def _quarter_turns(degrees: float) -> int:
    """The display rotation as counter-clockwise quarter turns (0-3), from the display matrix angle."""
    return round((degrees or 0) / 90.0) % 4


def _ffmpeg_message(error: Exception) -> str:
    return getattr(error, "strerror", None) or str(error)
