"""PyAV probing and decoding on real encoded files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from ltx_pipelines.config import Bucket
from ltx_pipelines.media.buckets import choose_bucket, frames_available
from ltx_pipelines.media.decode import center_crop, cover_size, decode_clip
from ltx_pipelines.media.encode import write_video
from ltx_pipelines.media.errors import MediaError
from ltx_pipelines.media.probe import probe_video


def _counter_clip(path: Path, frames: int = 24, width: int = 96, height: int = 64, fps: float = 24.0) -> Path:
    """A clip whose frame i is uniformly grey level 10*i, so a decoded frame tells its index."""
    data = np.stack([np.full((height, width, 3), (10 * i) % 250, dtype=np.uint8) for i in range(frames)])
    return write_video(path, data, fps=fps)


def test_probe_reports_size_rate_and_frames(tmp_path: Path) -> None:
    info = probe_video(_counter_clip(tmp_path / "c.mp4"))
    assert (info.width, info.height, info.frame_count, info.fps, info.codec) == (96, 64, 24, 24.0, "h264")
    assert info.duration == pytest.approx(1.0)
    assert info.has_audio is False


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty file (0 bytes)"),
        (b"this is a text file, not a video" * 20, "not a readable media file"),
    ],
)
def test_probe_refuses_non_video(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError) as caught:
        probe_video(path)
    assert caught.value.reason.startswith(reason)
    assert caught.value.path == str(path)


def test_probe_refuses_truncated_file(tmp_path: Path) -> None:
    source = _counter_clip(tmp_path / "whole.mp4", frames=48)
    with (
        av.open(str(source)) as src,
        av.open(str(tmp_path / "fast.mp4"), "w", options={"movflags": "faststart"}) as dst,
    ):
        stream = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                dst.mux(packet)
    data = (tmp_path / "fast.mp4").read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 3 // 4])
    with pytest.raises(MediaError, match=r"truncated: \d+ of 48 video frames present"):
        probe_video(cut)


def test_decode_fills_bucket_with_consecutive_frames(tmp_path: Path) -> None:
    frames = decode_clip(_counter_clip(tmp_path / "c.mp4"), Bucket(width=32, height=32, frames=9))
    assert frames.shape == (9, 32, 32, 3) and frames.dtype == np.uint8
    np.testing.assert_allclose(frames[:, 16, 16, 0], [10 * i for i in range(9)], atol=3)


def test_decode_resamples_by_timestamp(tmp_path: Path) -> None:
    # 24 fps source read at 12 fps: every second frame.
    frames = decode_clip(_counter_clip(tmp_path / "c.mp4"), Bucket(width=32, height=32, frames=9), fps=12)
    np.testing.assert_allclose(frames[:, 0, 0, 1], [20 * i for i in range(9)], atol=3)


def test_decode_too_short_is_a_media_error(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match=r"too short for bucket 32x32x17: 8 of 17 frames"):
        decode_clip(_counter_clip(tmp_path / "c.mp4", frames=8), Bucket(width=32, height=32, frames=17))


def test_cover_then_center_crop_keeps_the_middle() -> None:
    assert cover_size(96, 64, 64, 64) == (96, 64)
    assert cover_size(64, 96, 64, 32) == (64, 96)
    image = np.arange(64 * 96).reshape(64, 96, 1)
    crop = center_crop(image, 64, 64)
    assert crop.shape == (64, 64, 1) and crop[0, 0, 0] == image[0, 16, 0]


def test_bucket_choice_prefers_aspect_then_length() -> None:
    buckets = [
        Bucket(width=64, height=64, frames=17),
        Bucket(width=96, height=64, frames=9),
        Bucket(width=96, height=64, frames=17),
    ]
    assert choose_bucket(192, 128, 40, buckets).label == "96x64x17"
    assert choose_bucket(192, 128, 12, buckets).label == "96x64x9"
    assert choose_bucket(100, 100, 20, buckets).label == "64x64x17"
    assert choose_bucket(100, 100, 5, buckets) is None
    assert frames_available(48, 24.0, 12.0) == 24
