"""Probe a media file with PyAV: container facts plus a check that its video stream really decodes."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import av

from ltx_pipelines.media.errors import MediaError


@dataclass(frozen=True)
class MediaInfo:
    """What a clip offers: size, frame rate, frame count, duration, codec, audio."""

    width: int
    height: int
    fps: float
    frame_count: int
    duration: float
    codec: str
    has_audio: bool

    def to_dict(self) -> dict:
        return asdict(self)


def probe_video(path: str | Path) -> MediaInfo:
    """Facts about a video file, or :class:`MediaError` with the reason it cannot be used.

    Every video packet is demuxed (cheap: nothing is decoded) so a truncated file shows up as fewer packets
    than the container promises; the first frame is decoded to prove the stream is readable.
    """
    path = Path(path)
    if not path.is_file():
        raise MediaError(path, "not a regular file")
    if path.stat().st_size == 0:
        raise MediaError(path, "empty file (0 bytes)")
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.FFmpegError as error:
        raise MediaError(path, f"not a readable media file ({_ffmpeg_message(error)})") from error
    with container:
        if not container.streams.video:
            kind = "audio only" if container.streams.audio else "no streams"
            raise MediaError(path, f"no video stream ({kind})")
        stream = container.streams.video[0]
        has_audio = bool(container.streams.audio)
        fps = float(stream.average_rate or stream.guessed_rate or 0) or 0.0
        codec = stream.codec_context.name
        promised = _promised_frames(stream, container, fps)
        packets, corrupt = _count_packets(path, container, stream)
        if packets == 0:
            raise MediaError(path, "video stream has no packets")
        intact = packets - corrupt
        if promised and intact < promised * 0.98 - 1:
            raise MediaError(path, f"truncated: {intact} of {promised} video frames present")
        if corrupt:
            raise MediaError(path, f"{corrupt} corrupt video packet(s)")
        first = _first_frame(path, container)
        width, height = first.width, first.height
        duration = packets / fps if fps else 0.0
    return MediaInfo(width, height, fps, packets, duration, codec, has_audio)


def _promised_frames(stream: av.video.stream.VideoStream, container: av.container.InputContainer, fps: float) -> int:
    if stream.frames:
        return int(stream.frames)
    if stream.duration and stream.time_base and fps:
        return math.floor(float(stream.duration * stream.time_base) * fps + 0.5)
    if container.duration and fps:
        return math.floor(container.duration / av.time_base * fps + 0.5)
    return 0


def _count_packets(path: Path, container: av.container.InputContainer, stream) -> tuple[int, int]:
    packets = corrupt = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's flush packet
                continue
            packets += 1
            corrupt += bool(packet.is_corrupt)
    except av.error.FFmpegError as error:
        raise MediaError(path, f"unreadable after {packets} packets ({_ffmpeg_message(error)})") from error
    container.seek(0)
    return packets, corrupt


def _first_frame(path: Path, container: av.container.InputContainer) -> av.VideoFrame:
    try:
        for frame in container.decode(video=0):
            return frame
    except av.error.FFmpegError as error:
        raise MediaError(path, f"video does not decode ({_ffmpeg_message(error)})") from error
    raise MediaError(path, "no decodable video frames")


def _ffmpeg_message(error: av.error.FFmpegError) -> str:
    return getattr(error, "strerror", None) or str(error)
