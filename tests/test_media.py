"""PyAV probing and decoding on real encoded files."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from ltx_pipelines.config import Bucket
from ltx_pipelines.media.buckets import choose_bucket, frames_available
from ltx_pipelines.media.decode import center_crop, cover_size, decode_clip, decode_image
from ltx_pipelines.media.encode import write_video
from ltx_pipelines.media.errors import MediaError
from ltx_pipelines.media.probe import probe_media, probe_video
from tests import media_factory as media


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
        (b"this is a text file, not a video" * 20, "not a media file"),
    ],
)
def test_probe_refuses_non_video(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "bad.mp4"
    path.write_bytes(content)
    with pytest.raises(MediaError) as caught:
        probe_video(path)
    assert caught.value.reason == reason
    assert caught.value.path == str(path)


def test_probe_names_a_video_cut_before_its_index_damaged(tmp_path: Path) -> None:
    whole = _counter_clip(tmp_path / "whole.mp4", frames=48).read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole[: len(whole) // 2])  # the index (moov) sits at the end: gone
    with pytest.raises(MediaError) as caught:
        probe_video(cut)
    assert caught.value.reason == "unreadable: damaged or incomplete container"


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


# --- every input kind the stages accept: codecs, containers, bit depths, rotation, VFR, audio, images ---

CODEC_CASES = [
    ("h264.mp4", "libx264", "yuv420p", "h264"),
    ("h264.mov", "libx264", "yuv420p", "h264"),
    ("h264-10bit.mkv", "libx264", "yuv420p10le", "h264"),
    ("hevc-10bit.mp4", "libx265", "yuv420p10le", "hevc"),
    ("vp9.webm", "libvpx-vp9", "yuv420p", "vp9"),
    ("av1.mp4", "libsvtav1", "yuv420p", "libdav1d"),
    ("mpeg4.avi", "mpeg4", "yuv420p", "mpeg4"),
]


@pytest.mark.parametrize(("name", "encoder", "pix_fmt", "decoder"), CODEC_CASES, ids=[c[0] for c in CODEC_CASES])
def test_every_codec_and_container_probes_and_decodes(
    tmp_path: Path, name: str, encoder: str, pix_fmt: str, decoder: str
) -> None:
    path = media.write_counter(tmp_path / name, frames=12, width=64, height=64, codec=encoder, pix_fmt=pix_fmt)
    info = probe_media(path)
    assert (info.width, info.height, info.frame_count, info.pix_fmt) == (64, 64, 12, pix_fmt)
    assert info.codec.endswith(decoder.removeprefix("lib")) or info.codec == decoder
    frames = decode_clip(path, Bucket(width=32, height=32, frames=9))
    np.testing.assert_allclose(frames[:, 16, 16, 0], [media.grey(i) for i in range(9)], atol=6)


def test_odd_sizes_scale_and_crop_into_the_bucket(tmp_path: Path) -> None:
    path = media.write_counter(tmp_path / "odd.mp4", frames=10, width=97, height=61, pix_fmt="yuv444p")
    assert (probe_media(path).width, probe_media(path).height) == (97, 61)
    assert decode_clip(path, Bucket(width=64, height=32, frames=9)).shape == (9, 32, 64, 3)


def test_audio_track_is_reported_and_ignored(tmp_path: Path) -> None:
    path = media.write_counter(tmp_path / "talk.mp4", frames=24, audio=True)
    info = probe_media(path)
    assert info.has_audio and info.frame_count == 24
    assert decode_clip(path, Bucket(width=32, height=32, frames=17)).shape == (17, 32, 32, 3)


def test_rotation_metadata_is_honoured(tmp_path: Path) -> None:
    # Stored 96x64 landscape with a white marker top-left, displayed rotated 90° counter-clockwise: 64x96
    # portrait with the marker bottom-left.
    path = media.write_counter(tmp_path / "phone.mp4", frames=10, rotation=90, marker=True)
    info = probe_media(path)
    assert (info.width, info.height, info.rotation) == (64, 96, 90)
    frame = decode_clip(path, Bucket(width=64, height=96, frames=1), rotation=info.rotation)[0]
    assert frame.shape == (96, 64, 3)
    assert frame[90, 4, 0] > 200 and frame[4, 4, 0] < 60 and frame[90, 60, 0] < 60


def test_variable_frame_rate_resamples_by_timestamp(tmp_path: Path) -> None:
    # Frames last 20 ms and 100 ms in turn: frame 2j starts at 120j ms, frame 2j+1 at 120j + 20 ms. Read at
    # 25 fps (every 40 ms) the frames on screen are 0,1,1,2,3,3,4,5,5: right only when chosen by timestamp.
    path = media.write_counter(tmp_path / "vfr.mp4", frames=30, width=64, height=64, durations_ms=[20, 100])
    info = probe_media(path)
    assert info.variable_frame_rate and info.duration == pytest.approx(1.8, abs=0.11)
    frames = decode_clip(path, Bucket(width=32, height=32, frames=9), fps=25)
    np.testing.assert_allclose(frames[:, 16, 16, 0], [media.grey(i) for i in (0, 1, 1, 2, 3, 3, 4, 5, 5)], atol=6)


def test_seek_starts_the_window_without_decoding_from_zero(tmp_path: Path) -> None:
    path = media.write_counter(tmp_path / "long.mp4", frames=96, width=64, height=64)
    frames = decode_clip(path, Bucket(width=32, height=32, frames=9), start=2.0)
    np.testing.assert_allclose(frames[:, 16, 16, 0], [media.grey(48 + i) for i in range(9)], atol=6)
    resampled = decode_clip(path, Bucket(width=32, height=32, frames=9), fps=12, start=1.0)
    np.testing.assert_allclose(resampled[:, 16, 16, 0], [media.grey(24 + 2 * i) for i in range(9)], atol=6)


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".webp"])
def test_images_are_one_frame_clips(tmp_path: Path, suffix: str) -> None:
    path = media.write_image(tmp_path / f"still{suffix}", width=96, height=64, level=120)
    info = probe_media(path)
    assert (info.width, info.height, info.frame_count, info.is_image) == (96, 64, 1, True)
    frames = decode_image(path, Bucket(width=32, height=32, frames=1))
    assert frames.shape == (1, 32, 32, 3) and abs(int(frames[0, 16, 16, 0]) - 120) <= 3


def test_image_exif_orientation_is_honoured(tmp_path: Path) -> None:
    info = probe_media(media.write_image(tmp_path / "phone.jpg", width=96, height=64, orientation=6))
    assert (info.width, info.height) == (64, 96)


def test_audio_only_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(MediaError) as caught:
        probe_media(media.write_audio_only(tmp_path / "voice.mp4"))
    assert caught.value.reason == "no video stream (audio only)"


def test_garbled_payload_is_refused_as_unreadable(tmp_path: Path) -> None:
    path = media.garble(media.write_counter(tmp_path / "ok.mp4", frames=24), tmp_path / "garbled.mp4")
    with pytest.raises(MediaError) as caught:
        probe_media(path)
    assert caught.value.reason == "unreadable: video does not decode"
