"""Hostile media through the real data stages (scan → clip windows → frames → captions), on files made here.

One folder holds every kind of damaged, foreign, huge or odd file beside good clips: each bad file gets its exact
quarantine reason, nothing crashes, nothing half-written is left in the caches, and the good clips come out
exactly as they do from a clean folder.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import ImageFile

from ltx_pipelines.captioning import build_captions
from ltx_pipelines.clips import plan_clips
from ltx_pipelines.config import Bucket, DatasetSpec
from ltx_pipelines.dataset import Quarantined, ScanResult, SourceClip, scan_dataset
from ltx_pipelines.frames import extract_frames
from ltx_pipelines.media.decode import PREFETCH_FRAMES
from tests import media_factory as media
from tests.test_dataset_stages import BUCKETS, run_stages

TOO_LARGE = "too large: 8000x8000 > 16777216 pixels (dataset.max_pixels)"
GOOD = ("good.mp4", "wide.mkv")


def _captioned(path: Path, text: str = "a grey square fading") -> Path:
    path.with_suffix(".txt").write_text(text + "\n")
    return path


def _good_clips(root: Path) -> None:
    _captioned(media.write_counter(root / "good.mp4", frames=24))
    _captioned(media.write_counter(root / "wide.mkv", frames=24, width=128, height=64))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with two good clips, three odd-but-valid ones and every hostile kind."""
    root = tmp_path_factory.mktemp("hostile")
    work = tmp_path_factory.mktemp("sources")
    _good_clips(root)
    noisy = media.write_counter(work / "noisy.mp4", frames=48, width=64, height=64, data=media.noise_frames(48))
    (root / "empty.mp4").write_bytes(b"")
    media.cut_inside_packet(noisy, root / "cut.mp4", index=30)
    (root / "garbage.mp4").write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    media.to_mpegts(noisy, root / "broadcast.ts", damage=[5, 20, 35])
    _captioned(media.corrupt_payload(noisy, root / "damaged.mp4", packets=[5, 6, 7]))
    media.write_audio_only(root / "voice.mp4")
    _captioned(media.write_counter(root / "single.mp4", frames=1, width=64, height=64))
    _captioned(media.write_counter(root / "pixel.mp4", frames=12, width=1, height=1, pix_fmt="yuv444p"))
    _captioned(media.write_blank(root / "huge.avi", 8000, 8000))
    _captioned(media.write_bilevel_png(root / "huge.png", 8000, 8000))
    _captioned(media.write_bilevel_png(root / "bomb.png", 20000, 20000))
    _captioned(media.write_endless(root / "endless.mp4", 100_000))
    _captioned(media.write_counter(root / "phone.mp4", frames=12, rotation=90, marker=True))
    _captioned(media.write_counter(root / "vfr.mp4", frames=30, width=64, height=64, durations_ms=[20, 100]))
    _captioned(media.write_counter(root / "deep.mkv", frames=12, width=64, height=64, pix_fmt="yuv420p10le"))
    _captioned(media.patch_fourcc(noisy, root / "alien.mp4"))
    _captioned(root / "photo.mp4").write_bytes(media.write_image(work / "photo.png").read_bytes())
    (root / "folder.mp4").mkdir()
    return root


@pytest.fixture(scope="module")
def outcome(hostile: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return run_stages(hostile, DatasetSpec(buckets=BUCKETS), tmp_path_factory.mktemp("cache"))


def test_every_hostile_file_gets_its_exact_reason(outcome: dict) -> None:
    assert outcome["quarantine"] == {
        "empty.mp4": "empty file (0 bytes)",
        "cut.mp4": "truncated: 30 of 48 video frames present",
        "garbage.mp4": "not a media file",
        "broadcast.ts": "unreadable: 3 corrupt video packet(s)",
        "damaged.mp4": "unreadable: video does not decode",
        "voice.mp4": "no video stream (audio only)",
        "single.mp4": "too short: 1 frames, the shortest bucket needs 9",
        "pixel.mp4": "too small: 1x1 < 32px",
        "huge.avi": TOO_LARGE,
        "huge.png": TOO_LARGE,
        "bomb.png": "too large: over Pillow's decompression bomb limit",
        "alien.mp4": "unsupported codec: FFmpeg has no decoder for the video stream",
        "photo.mp4": "image needs a 1-frame bucket (add one with frames: 1)",
        "folder.mp4": "not a regular file",
    }
    assert outcome["stages"]["damaged.mp4"] == "video_frames"  # its container is sound: only decoding finds it
    assert outcome["stages"]["single.mp4"] == outcome["stages"]["photo.mp4"] == "video_clips"


def test_odd_but_valid_files_are_used(outcome: dict) -> None:
    info = {c.clip_id: c.info for c in outcome["scan"].clips}
    assert (info["phone.mp4"].width, info["phone.mp4"].height, info["phone.mp4"].rotation) == (64, 96, 90)
    assert info["vfr.mp4"].variable_frame_rate
    assert info["deep.mkv"].pix_fmt == "yuv420p10le"
    assert info["endless.mp4"].frame_count == 100_000
    assert {c.clip_id: c.bucket for c in outcome["frames"].clips} == {
        "deep.mkv": "32x32x9",
        "endless.mp4": "32x32x9",
        "good.mp4": "64x32x17",
        "phone.mp4": "32x32x9",
        "vfr.mp4": "32x32x9",
        "wide.mkv": "64x32x17",
    }
    assert [c.clip_id for c in outcome["captions"].captions] == sorted(c.clip_id for c in outcome["frames"].clips)


def test_no_partial_output_is_left_behind(outcome: dict, hostile: Path) -> None:
    frames = Path(outcome["frames"].clips[0].path).parent
    assert sorted(p.name for p in frames.iterdir()) == sorted(f"{c.key}.safetensors" for c in outcome["frames"].clips)
    for clip in outcome["frames"].clips:
        assert clip.load().shape == (clip.frames, clip.height, clip.width, 3)


def test_good_clips_come_out_as_from_a_clean_folder(outcome: dict, hostile: Path, tmp_path: Path) -> None:
    clean = tmp_path / "clean"
    clean.mkdir()
    for name in GOOD:
        for path in (hostile / name, (hostile / name).with_suffix(".txt")):
            shutil.copy(path, clean)
    alone = run_stages(clean, DatasetSpec(buckets=BUCKETS), tmp_path / "cache")
    assert alone["quarantine"] == {}
    mixed = {c.clip_id: c for c in outcome["frames"].clips if c.clip_id in GOOD}
    for clip in alone["frames"].clips:
        assert mixed[clip.clip_id].key == clip.key
        np.testing.assert_array_equal(mixed[clip.clip_id].load(), clip.load())
    assert {c.clip_id: c.text for c in outcome["captions"].captions if c.clip_id in GOOD} == {
        c.clip_id: c.text for c in alone["captions"].captions
    }


def test_image_named_mp4_is_used_as_the_image_it_is(hostile: Path, tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    shutil.copy(hostile / "photo.mp4", root)
    shutil.copy(hostile / "photo.txt", root)
    out = run_stages(root, DatasetSpec(buckets=[*BUCKETS, Bucket(width=64, height=32, frames=1)]), tmp_path / "c")
    (clip,) = out["scan"].clips
    assert clip.info.is_image and clip.info.codec == "png" and out["quarantine"] == {}
    assert abs(int(out["frames"].clips[0].load()[0, 16, 16, 0]) - 120) <= 3


# --- bounded work: huge frames are refused from the header, endless streams are never decoded in full ---


class _CountingAv:
    """The ``av`` module with every container's ``decode`` counted: how many frames a stage really decoded."""

    def __init__(self, module) -> None:
        self._module = module
        self.decoded = 0

    def __getattr__(self, name: str):
        return getattr(self._module, name)

    def open(self, *args, **kwargs):
        return _CountingContainer(self._module.open(*args, **kwargs), self)


class _CountingContainer:
    def __init__(self, inner, counter: _CountingAv) -> None:
        self._inner, self._counter = inner, counter

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def __enter__(self) -> _CountingContainer:
        return self

    def __exit__(self, *exc) -> None:
        self._inner.__exit__(*exc)

    def decode(self, *args, **kwargs):
        for frame in self._inner.decode(*args, **kwargs):
            self._counter.decoded += 1
            yield frame


def _count_decoding(monkeypatch: pytest.MonkeyPatch, module: str) -> _CountingAv:
    import av

    counter = _CountingAv(av)
    monkeypatch.setattr(f"ltx_pipelines.media.{module}.av", counter)
    return counter


def test_endless_stream_is_probed_and_extracted_with_bounded_decoding(
    hostile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    for name in ("endless.mp4", "endless.txt"):
        shutil.copy(hostile / name, root)
    probed = _count_decoding(monkeypatch, "probe")
    decoded = _count_decoding(monkeypatch, "decode")
    out = run_stages(root, DatasetSpec(buckets=BUCKETS), tmp_path / "cache")
    assert out["quarantine"] == {} and out["scan"].clips[0].info.frame_count == 100_000  # every packet counted
    assert probed.decoded == 1  # the probe decodes the first frame only
    assert 9 <= decoded.decoded <= 9 + PREFETCH_FRAMES + 2  # the bucket's 9 frames and the read-ahead, no more


def test_huge_frames_are_refused_before_anything_is_decoded(
    hostile: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    for name in ("huge.avi", "huge.png", "bomb.png"):
        shutil.copy(hostile / name, root)
    probed = _count_decoding(monkeypatch, "probe")
    loads = []
    original = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda image: loads.append(image) or original(image))
    scan = scan_dataset(root, DatasetSpec(buckets=BUCKETS))
    assert {q.path: q.reason for q in scan.quarantined} == {
        "huge.avi": TOO_LARGE,
        "huge.png": TOO_LARGE,
        "bomb.png": "too large: over Pillow's decompression bomb limit",
    }
    assert probed.decoded == 0 and loads == []


def test_max_pixels_is_configurable_and_keys_the_probe_cache(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    _good_clips(root)
    cache = tmp_path / "probe"
    strict = scan_dataset(root, DatasetSpec(buckets=BUCKETS, max_pixels=96 * 64), cache)
    assert {q.path: q.reason for q in strict.quarantined} == {
        "wide.mkv": "too large: 128x64 > 6144 pixels (dataset.max_pixels)"
    }
    relaxed = scan_dataset(root, DatasetSpec(buckets=BUCKETS), cache)
    assert relaxed.quarantined == [] and relaxed.probed == 2  # a cached refusal under one limit is not reused
    assert DatasetSpec().max_pixels == 4096 * 4096


# --- permissions: root reads everything, so the scan runs as nobody ---


def _scan_as_nobody(root: Path) -> ScanResult:
    """``scan_dataset`` in a forked child that drops to nobody (uid/gid 65534, no groups) before scanning, so
    file permissions apply; the result comes back through a pipe. Not root: the scan runs here."""
    if os.geteuid() != 0:
        return scan_dataset(root, DatasetSpec(buckets=BUCKETS))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read)
            try:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            except PermissionError:  # root without CAP_SETUID (some containers)
                os._exit(3)
            scan = scan_dataset(root, DatasetSpec(buckets=BUCKETS))
            payload = {
                "clips": [c.to_dict() for c in scan.clips],
                "quarantined": [q.to_dict() for q in scan.quarantined],
            }
            with os.fdopen(write, "w") as handle:
                json.dump(payload, handle)
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read) as handle:
        payload = json.loads(handle.read() or "null")
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if status == 3:
        pytest.skip("root here cannot drop to an unprivileged user, and file permissions do not bind root")
    assert status == 0 and payload is not None
    clips = [SourceClip.from_dict(c) for c in payload["clips"]]
    return ScanResult(clips, [Quarantined.from_dict(q) for q in payload["quarantined"]])


def test_unreadable_files_and_captions_are_quarantined_as_permission_denied(tmp_path: Path) -> None:
    base = Path(tempfile.mkdtemp(prefix="ltx-permissions-"))  # pytest's tmp_path is private to root
    try:
        base.chmod(0o755)
        root = base / "ds"
        root.mkdir()
        _good_clips(root)
        locked_video = _captioned(media.write_counter(root / "locked.mp4", frames=24, width=64, height=64))
        locked_image = _captioned(media.write_image(root / "locked.png"))
        secret = _captioned(media.write_counter(root / "secret.mp4", frames=24, width=64, height=96))
        for path in (locked_video, locked_image, secret.with_suffix(".txt")):
            path.chmod(0)
        scan = _scan_as_nobody(root)
        spec = DatasetSpec(buckets=BUCKETS)  # the later stages, as root, on what the unprivileged scan let through
        clips = plan_clips(scan.clips, spec)
        frames = extract_frames(clips.clips, spec, tmp_path / "frames")
        captions = build_captions(frames.clips, {w.clip_id: w.caption for w in clips.clips}, None, None)
    finally:
        shutil.rmtree(base)
    assert {q.path: q.reason for q in scan.quarantined} == {
        "locked.mp4": "unreadable: permission denied",
        "locked.png": "unreadable: permission denied",
        "secret.mp4": "caption file unreadable: permission denied",
    }
    assert clips.quarantined == frames.quarantined == captions.quarantined == []
    assert [c.clip_id for c in captions.captions] == list(GOOD)
