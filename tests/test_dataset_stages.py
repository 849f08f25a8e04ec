"""The data stages on generated media, without Dagster: scan → clip windows → frames → captions.

Every input kind and every quarantine reason, each asserted exactly; manifests in the official trainers' format;
path escapes; scene split; IC-LoRA references.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from ltx_pipelines.captioning import EMPTY_CAPTION, NO_CAPTION, build_captions
from ltx_pipelines.clips import plan_clips
from ltx_pipelines.config import Bucket, DatasetSpec, SceneSpec
from ltx_pipelines.dataset import scan_dataset
from ltx_pipelines.frames import extract_frames
from tests import media_factory as media

BUCKETS = [Bucket(width=32, height=32, frames=9), Bucket(width=64, height=32, frames=17)]


def run_stages(root: Path, spec: DatasetSpec, cache: Path, captioner=None) -> dict:
    """Scan, plan, decode and caption ``root``; returns the outputs and the merged quarantine (path -> reason)."""
    scan = scan_dataset(root, spec, cache / "probe")
    clips = plan_clips(scan.clips, spec, cache / "scenes")
    frames = extract_frames(clips.clips, spec, cache / "frames")
    given = {w.clip_id: w.caption for w in clips.clips}
    captions = build_captions(frames.clips, given, spec.trigger_word, captioner, cache / "captions")
    quarantined = scan.quarantined + clips.quarantined + frames.quarantined + captions.quarantined
    return {
        "scan": scan,
        "clips": clips,
        "frames": frames,
        "captions": captions,
        "quarantine": {q.path: q.reason for q in quarantined},
        "stages": {q.path: q.stage for q in quarantined},
    }


def _captioned(path: Path, text: str = "a grey square fading") -> Path:
    path.with_suffix(".txt").write_text(text + "\n")
    return path


def test_every_quarantine_reason_is_exact_and_the_rest_proceeds(tmp_path: Path) -> None:
    root = tmp_path / "messy"
    root.mkdir()
    good = _captioned(media.write_counter(root / "good.mp4", frames=24))
    _captioned(media.write_counter(root / "wide.mkv", frames=24, width=128, height=64))
    (root / "take2.mp4").write_bytes(good.read_bytes())
    (root / "empty.mp4").write_bytes(b"")
    (root / "notes.mp4").write_bytes(b"meeting notes, not a video\n" * 40)
    (root / "report.pdf").write_bytes(bytes(range(256)) * 8)
    (root / "broken.jpg").write_bytes(b"not a jpeg at all" * 10)
    photo = media.write_image(tmp_path / "photo.jpg", width=256, height=256, level=90).read_bytes()
    (root / "half.jpg").write_bytes(photo[: len(photo) // 2])
    (root / "folder.mp4").mkdir()
    media.truncate(media.write_counter(tmp_path / "whole.mp4", frames=48), root / "cut.mp4")
    media.garble(media.write_counter(tmp_path / "clean.mp4", frames=24), root / "garbled.mp4")
    media.write_audio_only(root / "voice.mp4")
    _captioned(media.write_counter(root / "short.mp4", frames=8))
    _captioned(media.write_counter(root / "tiny.mp4", frames=24, width=16, height=16))
    _captioned(media.write_image(root / "still.png"))
    media.write_counter(root / "uncaptioned.mp4", frames=24, width=64, height=64)
    outside = media.write_counter(tmp_path / "secret.mp4", frames=24)
    os.symlink(outside, root / "escape.mp4")

    out = run_stages(root, DatasetSpec(buckets=BUCKETS), tmp_path / "cache")

    quarantine = out["quarantine"]
    cut_reason = quarantine.pop("cut.mp4")
    assert cut_reason.startswith("truncated: ") and cut_reason.endswith(" of 48 video frames present")
    assert quarantine == {
        "take2.mp4": "duplicate of good.mp4",
        "empty.mp4": "empty file (0 bytes)",
        "notes.mp4": "not a media file",
        "report.pdf": "not a media file",
        "broken.jpg": "not a media file",
        "half.jpg": "unreadable: image does not decode",
        "folder.mp4": "not a regular file",
        "garbled.mp4": "unreadable: video does not decode",
        "voice.mp4": "no video stream (audio only)",
        "escape.mp4": "unsafe path: outside the dataset root",
        "short.mp4": "too short: 8 frames, the shortest bucket needs 9",
        "tiny.mp4": "too small: 16x16 < 32px",
        "still.png": "image needs a 1-frame bucket (add one with frames: 1)",
        "uncaptioned.mp4": NO_CAPTION,
    }
    assert out["stages"]["short.mp4"] == "video_clips" and out["stages"]["uncaptioned.mp4"] == "captions"
    assert {c.clip_id: c.bucket for c in out["frames"].clips} == {
        "good.mp4": "64x32x17",
        "uncaptioned.mp4": "32x32x9",
        "wide.mkv": "64x32x17",
    }
    assert [c.clip_id for c in out["captions"].captions] == ["good.mp4", "wide.mkv"]


def test_buckets_pick_nearest_aspect_then_longest_fillable_length(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    for name, frames, width, height in [("sq-long", 40, 64, 64), ("sq-short", 12, 64, 64), ("wide", 40, 128, 64)]:
        _captioned(media.write_counter(root / f"{name}.mp4", frames=frames, width=width, height=height))
    buckets = [*BUCKETS, Bucket(width=32, height=32, frames=33)]
    out = run_stages(root, DatasetSpec(buckets=buckets), tmp_path / "cache")
    assert {c.clip_id: c.bucket for c in out["frames"].clips} == {
        "sq-long.mp4": "32x32x33",
        "sq-short.mp4": "32x32x9",
        "wide.mp4": "64x32x17",
    }
    assert out["frames"].clips[0].load().shape == (33, 32, 32, 3)


def test_frame_rate_normalisation_counts_frames_at_the_target_rate(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    _captioned(media.write_counter(root / "a.mp4", frames=24, width=64, height=64))  # 1 s at 24 fps
    spec = DatasetSpec(buckets=[Bucket(width=32, height=32, frames=9), Bucket(width=32, height=32, frames=17)], fps=12)
    out = run_stages(root, spec, tmp_path / "cache")
    (clip,) = out["frames"].clips
    assert clip.bucket == "32x32x9"  # 1 s at 12 fps = 12 frames: fills 9, not 17
    np.testing.assert_allclose(clip.load()[:, 16, 16, 0], [media.grey(2 * i) for i in range(9)], atol=6)


def test_images_become_one_frame_clips_in_a_one_frame_bucket(tmp_path: Path) -> None:
    root = tmp_path / "stills"
    root.mkdir()
    for suffix in (".jpg", ".png", ".webp"):
        _captioned(media.write_image(root / f"still{suffix}", width=128, height=64), "a grey card")
    spec = DatasetSpec(buckets=[*BUCKETS, Bucket(width=64, height=32, frames=1)])
    out = run_stages(root, spec, tmp_path / "cache")
    assert out["quarantine"] == {}
    assert {c.bucket for c in out["frames"].clips} == {"64x32x1"}
    assert all(c.load().shape == (1, 32, 64, 3) for c in out["frames"].clips)


def _write_manifest(path: Path, rows: Sequence[dict]) -> Path:
    if path.suffix == ".csv":
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=sorted({k for row in rows for k in row}))
            writer.writeheader()
            writer.writerows(rows)
    elif path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    else:
        path.write_text(json.dumps(rows, indent=2))
    return path


@pytest.mark.parametrize("manifest_name", ["dataset.csv", "dataset.json", "dataset.jsonl"])
def test_official_trainer_manifest_ingests_unchanged(tmp_path: Path, manifest_name: str) -> None:
    # The layout the LTX trainers document: a manifest beside a videos/ folder, paths relative to the manifest.
    root = tmp_path / "trainer-dataset"
    (root / "videos").mkdir(parents=True)
    media.write_counter(root / "videos" / "clip_001.mp4", frames=24)
    media.write_counter(root / "videos" / "clip_002.mp4", frames=30, width=64, height=64)
    media.write_image(root / "videos" / "poster.png", width=64, height=64)
    rows = [
        {"caption": "a grey square getting brighter", "media_path": "videos/clip_001.mp4"},
        {"caption": "  a smaller   grey square ", "media_path": "videos/clip_002.mp4"},
        {"caption": "a poster", "media_path": "videos/poster.png"},
    ]
    _write_manifest(root / manifest_name, rows)
    spec = DatasetSpec(buckets=[*BUCKETS, Bucket(width=32, height=32, frames=1)])
    out = run_stages(root, spec, tmp_path / "cache")
    assert out["scan"].manifest == manifest_name
    assert out["quarantine"] == {}
    captions = {c.clip_id: (c.text, c.source) for c in out["captions"].captions}
    assert captions == {
        "videos/clip_001.mp4": ("a grey square getting brighter", "given"),
        "videos/clip_002.mp4": ("a smaller grey square", "given"),
        "videos/poster.png": ("a poster", "given"),
    }


def test_ltx2_manifest_columns_and_ic_lora_references(tmp_path: Path) -> None:
    root = tmp_path / "pairs"
    (root / "data").mkdir(parents=True)
    media.write_counter(root / "data" / "target.mp4", frames=24)
    media.write_counter(root / "data" / "depth.mp4", frames=24, marker=True)
    media.write_counter(root / "data" / "other.mp4", frames=24, width=64, height=64)
    rows = [
        {"caption": "styled", "video": "target.mp4", "reference_video": "depth.mp4"},
        {"caption": "broken pair", "video": "other.mp4", "reference_video": "missing.mp4"},
    ]
    _write_manifest(root / "data" / "pairs.jsonl", rows)
    out = run_stages(root, DatasetSpec(buckets=BUCKETS, manifest="data/pairs.jsonl"), tmp_path / "cache")
    assert out["quarantine"] == {"data/other.mp4": "reference: file not found"}
    (clip,) = out["frames"].clips
    assert clip.has_reference
    reference = clip.load_reference()
    assert reference.shape == clip.load().shape and reference[0, 0, 0, 0] > 200  # the marker is in the reference


def test_manifest_rows_that_escape_the_root_are_rejected_as_unsafe(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    (root / "videos").mkdir(parents=True)
    media.write_counter(root / "videos" / "ok.mp4", frames=24)
    outside = media.write_counter(tmp_path / "private.mp4", frames=24)
    os.symlink(outside, root / "videos" / "sneaky.mp4")
    rows = [
        {"caption": "fine", "media_path": "videos/ok.mp4"},
        {"caption": "dot-dot", "media_path": "../private.mp4"},
        {"caption": "absolute", "media_path": str(outside)},
        {"caption": "system file", "media_path": "/etc/hostname"},
        {"caption": "symlink", "media_path": "videos/sneaky.mp4"},
        {"caption": "gone", "media_path": "videos/missing.mp4"},
        {"caption": "no path"},
    ]
    _write_manifest(root / "dataset.json", rows)
    out = run_stages(root, DatasetSpec(buckets=BUCKETS), tmp_path / "cache")
    assert out["quarantine"] == {
        "../private.mp4": "unsafe path: outside the dataset root",
        str(outside): "unsafe path: outside the dataset root",
        "/etc/hostname": "unsafe path: outside the dataset root",
        "videos/sneaky.mp4": "unsafe path: outside the dataset root",
        "videos/missing.mp4": "file not found",
        "dataset.json:7": "manifest row has no media_path",
    }
    assert [c.clip_id for c in out["frames"].clips] == ["videos/ok.mp4"]


def test_broken_manifest_is_quarantined_not_raised(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    (root / "dataset.jsonl").write_text('{"caption": "a", "media_path": "a.mp4"}\n{not json\n')
    out = run_stages(root, DatasetSpec(buckets=BUCKETS), tmp_path / "cache")
    assert out["quarantine"] == {"dataset.jsonl": "manifest is not valid JSONL"}


def test_scene_split_makes_one_clip_per_scene_and_caps_the_count(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    _captioned(media.write_scenes(root / "cuts.mp4", [(230, 30, 30), (20, 20, 20), (30, 30, 230)]))
    scenes = SceneSpec(enabled=True, threshold=15.0)
    out = run_stages(root, DatasetSpec(buckets=BUCKETS, scenes=scenes), tmp_path / "cache")
    windows = out["clips"].clips
    assert [w.clip_id for w in windows] == ["cuts.mp4#scene-001", "cuts.mp4#scene-002", "cuts.mp4#scene-003"]
    assert [round(w.start, 2) for w in windows] == [0.0, 1.0, 2.0]
    first_frames = [c.load()[0, 20, 16] for c in out["frames"].clips]
    assert first_frames[0][0] > 150 and first_frames[1].max() < 60 and first_frames[2][2] > 150
    assert {c.caption for c in windows} == {"a grey square fading"}

    capped = DatasetSpec(buckets=BUCKETS, scenes=SceneSpec(enabled=True, threshold=15.0, max_clips_per_video=2))
    again = run_stages(root, capped, tmp_path / "cache")
    assert len(again["clips"].clips) == 2 and again["clips"].scenes_reused == 1


class _SilentCaptioner:
    """A captioner that answers nothing: the protocol's edge case, not a stand-in for transformers."""

    identity = "silent"
    frames_per_clip = 2
    batch_size = 4

    def caption(self, clips):
        return ["" for _ in clips]


def test_empty_generated_caption_is_quarantined(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    media.write_counter(root / "a.mp4", frames=24)
    out = run_stages(root, DatasetSpec(buckets=BUCKETS), tmp_path / "cache", captioner=_SilentCaptioner())
    assert out["quarantine"] == {"a.mp4": EMPTY_CAPTION}


def test_caption_file_that_is_not_text_is_quarantined(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    media.write_counter(root / "a.mp4", frames=24)
    (root / "a.txt").write_bytes(b"\xff\xfe\x00bad")
    out = run_stages(root, DatasetSpec(buckets=BUCKETS), tmp_path / "cache")
    assert out["quarantine"] == {"a.mp4": "caption file is not UTF-8 text"}


def test_manifest_detection_needs_the_official_columns(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    _captioned(media.write_counter(root / "a.mp4", frames=24))
    (root / "info.json").write_text(json.dumps({"video": "a.mp4", "fps": 24}))  # not a manifest: folder mode
    out = run_stages(root, DatasetSpec(buckets=BUCKETS), tmp_path / "cache")
    assert out["scan"].manifest is None and [c.clip_id for c in out["captions"].captions] == ["a.mp4"]

    _write_manifest(root / "one.csv", [{"caption": "x", "media_path": "a.mp4"}])
    _write_manifest(root / "two.jsonl", [{"caption": "y", "media_path": "a.mp4"}])
    both = run_stages(root, DatasetSpec(buckets=BUCKETS), tmp_path / "cache")
    assert both["quarantine"] == {
        ".": "several manifests (one.csv, two.jsonl): name one with dataset.manifest in ltx.yaml"
    }
    chosen = run_stages(root, DatasetSpec(buckets=BUCKETS, manifest="two.jsonl"), tmp_path / "cache")
    assert [c.text for c in chosen["captions"].captions] == ["y"]


def test_cli_inspect_lists_clips_and_quarantine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from ltx_pipelines.cli import main

    root = tmp_path / "ds"
    root.mkdir()
    _captioned(media.write_counter(root / "a.mp4", frames=24))
    (root / "b.mp4").write_bytes(b"")
    assert main(["inspect", str(root), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [(c["clip_id"], c["bucket"]) for c in report["clips"]] == [("a.mp4", "64x64x17")]
    assert [(q["path"], q["reason"]) for q in report["quarantined"]] == [("b.mp4", "empty file (0 bytes)")]
