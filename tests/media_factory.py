"""Real media for tests, encoded with PyAV: every codec, container, pixel format and oddity the stages meet.

Frame ``i`` of a counter clip is uniformly grey level ``(10 * i) % 250`` (plus an optional white marker in the top
left corner), so a decoded frame tells which source frame it came from.
"""

from __future__ import annotations

from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image

CONTAINER_FORMATS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm", ".avi": "avi"}


def grey(index: int) -> int:
    return (10 * index) % 250


def counter_frames(count: int, width: int, height: int, marker: bool = False) -> np.ndarray:
    frames = np.stack([np.full((height, width, 3), grey(i), dtype=np.uint8) for i in range(count)])
    if marker:
        frames[:, : height // 4, : width // 4] = 255
    return frames


def require_codec(name: str) -> None:
    if name not in av.codecs_available:
        pytest.skip(f"this PyAV/FFmpeg build has no {name} codec")


def write_counter(
    path: Path,
    frames: int = 24,
    width: int = 96,
    height: int = 64,
    fps: int = 24,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    rotation: int = 0,
    audio: bool = False,
    durations_ms: Sequence[int] | None = None,
    marker: bool = False,
    data: np.ndarray | None = None,
) -> Path:
    """Encode a counter clip. ``durations_ms`` gives each frame its own duration (variable frame rate);
    ``rotation`` writes a display matrix; ``audio`` adds an AAC sine track."""
    require_codec(codec)
    data = counter_frames(frames, width, height, marker) if data is None else data
    container_format = CONTAINER_FORMATS[path.suffix]
    with av.open(str(path), "w", format=container_format) as container:
        stream = container.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = data.shape[2], data.shape[1], pix_fmt
        if codec == "libx265":
            stream.options = {"x265-params": "log-level=error"}
        if codec == "libsvtav1":
            stream.options = {"preset": "12"}
        if rotation:
            stream.set_display_rotation(rotation)
        if durations_ms is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        sound = container.add_stream("aac", rate=44100) if audio else None
        pts = 0
        for index, image in enumerate(data):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24").reformat(format=pix_fmt)
            if durations_ms is not None:
                frame.pts, frame.time_base = pts, Fraction(1, 1000)
                pts += durations_ms[index % len(durations_ms)]
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            _write_tone(container, sound, seconds=len(data) / fps)
    return path


def write_audio_only(path: Path, seconds: float = 1.0) -> Path:
    with av.open(str(path), "w", format=CONTAINER_FORMATS[path.suffix]) as container:
        _write_tone(container, container.add_stream("aac", rate=44100), seconds)
    return path


def write_scenes(path: Path, colours: Sequence[tuple[int, int, int]], seconds_each: float = 1.0, fps: int = 24) -> Path:
    """A video of hard cuts between flat colours, with a small square moving within each scene."""
    frames = []
    for colour in colours:
        for t in range(round(seconds_each * fps)):
            image = np.full((64, 96, 3), colour, dtype=np.uint8)
            image[8:18, 2 + t * 2 : 12 + t * 2] = 255
            frames.append(image)
    return write_counter(path, fps=fps, data=np.stack(frames))


def write_image(
    path: Path, width: int = 96, height: int = 64, level: int = 120, orientation: int | None = None
) -> Path:
    image = Image.fromarray(np.full((height, width, 3), level, dtype=np.uint8))
    if orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(path, exif=exif)
    else:
        image.save(path)
    return path


def _remux_video(source: Path, scratch: Path, **output_options) -> bytes:
    """The bytes of ``source``'s video stream remuxed (no re-encoding) into ``scratch``'s container, opened with
    ``output_options``; the scratch file is removed."""
    with av.open(str(source)) as src, av.open(str(scratch), "w", **output_options) as dst:
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = scratch.read_bytes()
    scratch.unlink()
    return data


def truncate(source: Path, target: Path, keep: float = 0.75) -> Path:
    """A copy of ``source`` remuxed with the index in front (faststart), then cut: a download that stopped."""
    data = _remux_video(source, target.with_suffix(".whole.mp4"), options={"movflags": "faststart"})
    target.write_bytes(data[: int(len(data) * keep)])
    return target


def garble(source: Path, target: Path, seed: int = 0) -> Path:
    """A copy of an MP4 whose index is intact but whose video payload is noise: it opens and does not decode."""
    data = bytearray(source.read_bytes())
    start, end = data.find(b"mdat") + 4 + 64, data.find(b"moov") - 8
    data[start:end] = np.random.default_rng(seed).integers(0, 255, end - start, dtype=np.uint8).tobytes()
    target.write_bytes(bytes(data))
    return target


def _write_tone(container, stream, seconds: float) -> None:
    rate, samples = 44100, 1024
    for index in range(int(seconds * rate / samples) + 1):
        t = (np.arange(samples) + index * samples) / rate
        tone = (0.2 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate, frame.pts = rate, index * samples
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)


# --- hostile inputs: damaged, foreign, huge, endless and undecodable files (tests/reliability) ---


def noise_frames(count: int, width: int = 64, height: int = 64, seed: int = 0) -> np.ndarray:
    """Random frames: every packet is large, so damage to one lands inside that packet's payload."""
    return np.random.default_rng(seed).integers(0, 255, (count, height, width, 3), dtype=np.uint8)


def packet_spans(path: Path) -> list[tuple[int, int]]:
    """(byte offset, size) of every video packet in file order."""
    with av.open(str(path)) as container:
        return [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]


def cut_inside_packet(source: Path, target: Path, index: int) -> Path:
    """``source`` with its index in front (faststart), cut halfway through video packet ``index``: a download
    that stopped mid-GOP. Packets before ``index`` are whole."""
    whole = truncate(source, target.with_suffix(".faststart.mp4"), keep=1.0)
    pos, size = packet_spans(whole)[index]
    target.write_bytes(whole.read_bytes()[: pos + size // 2])
    whole.unlink()
    return target


def corrupt_payload(source: Path, target: Path, packets: Sequence[int], seed: int = 0) -> Path:
    """A copy whose container is intact but whose video packets ``packets`` hold noise (the rest are fine)."""
    data = bytearray(source.read_bytes())
    rng = np.random.default_rng(seed)
    spans = packet_spans(source)
    for index in packets:
        pos, size = spans[index]
        data[pos + 8 : pos + size] = rng.integers(0, 255, size - 8, dtype=np.uint8).tobytes()
    target.write_bytes(bytes(data))
    return target


def to_mpegts(source: Path, target: Path, damage: Sequence[int] = ()) -> Path:
    """``source`` remuxed to MPEG-TS, losing one 188-byte transport packet inside each video packet of ``damage``
    (a lossy broadcast recording): the demuxer sees the continuity gap and flags exactly those packets corrupt."""
    data = _remux_video(source, target.with_suffix(".whole.ts"), format="mpegts")
    cells = [data[i : i + 188] for i in range(0, len(data), 188)]
    video = [i for i, cell in enumerate(cells) if ((cell[1] & 0x1F) << 8 | cell[2]) == _TS_VIDEO_PID]
    starts = [i for i in video if cells[i][1] & 0x40]  # payload unit start: a new video packet (PES)
    dropped = {video[video.index(starts[k]) + 1] for k in damage}  # the second cell of each damaged packet
    target.write_bytes(b"".join(cell for i, cell in enumerate(cells) if i not in dropped))
    return target


_TS_VIDEO_PID = 0x100  # FFmpeg's mpegts muxer numbers the first stream's PID 0x100


def patch_fourcc(source: Path, target: Path, fourcc: bytes = b"zzzz") -> Path:
    """An MP4 whose sample description names codec ``fourcc`` instead of ``avc1``: no decoder exists for it."""
    data = source.read_bytes()
    at = data.index(b"avc1", data.index(b"stsd"))
    target.write_bytes(data[:at] + fourcc + data[at + 4 :])
    return target


def write_blank(path: Path, width: int, height: int, codec: str = "mjpeg") -> Path:
    """A 1-frame all-black video of any size, cheap to encode even at 8000×8000."""
    require_codec(codec)
    with av.open(str(path), "w", format=CONTAINER_FORMATS[path.suffix]) as container:
        stream = container.add_stream(codec, rate=24)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuvj420p" if codec == "mjpeg" else "yuv420p"
        for packet in [*stream.encode(av.VideoFrame(width, height, stream.pix_fmt)), *stream.encode()]:
            container.mux(packet)
    return path


def write_bilevel_png(path: Path, width: int, height: int) -> Path:
    """A 1-bit PNG: a huge frame in a few kilobytes."""
    Image.new("1", (width, height)).save(path)
    return path


def write_endless(path: Path, frames: int, size: int = 32, fps: int = 25) -> Path:
    """A ``frames``-frame H.264 stream made by muxing one encoded keyframe over and over with rising timestamps:
    100 000 frames in well under a second and a few megabytes."""
    seed = write_counter(path.with_suffix(".seed.mp4"), frames=1, width=size, height=size, fps=fps)
    with av.open(str(seed)) as src:
        template = src.streams.video[0]
        payload = _without_sei(bytes(next(p for p in src.demux(template) if p.size)))
        with av.open(str(path), "w", format=CONTAINER_FORMATS[path.suffix]) as dst:
            stream = dst.add_stream_from_template(template)
            for index in range(frames):
                packet = av.Packet(payload)
                packet.stream, packet.time_base = stream, Fraction(1, fps)
                packet.pts = packet.dts = index
                packet.duration, packet.is_keyframe = 1, True
                dst.mux(packet)
    seed.unlink()
    return path


def _without_sei(avcc: bytes) -> bytes:
    """An AVCC (length-prefixed) H.264 packet without its SEI units (x264 writes its settings there)."""
    units, offset = [], 0
    while offset < len(avcc):
        length = int.from_bytes(avcc[offset : offset + 4], "big")
        unit = avcc[offset : offset + 4 + length]
        if unit[4] & 0x1F != 6:
            units.append(unit)
        offset += 4 + length
    return b"".join(units)
