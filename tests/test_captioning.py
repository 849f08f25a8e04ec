"""The VLM captioner on a tiny Gemma 3 built offline (real transformers classes, random weights)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ltx_pipelines.captioning import build_captions
from ltx_pipelines.captioning.presets import resolve_captioner
from ltx_pipelines.captioning.vlm import VlmCaptioner
from ltx_pipelines.clips import plan_clips
from ltx_pipelines.config import Bucket, CaptioningSpec, DatasetSpec
from ltx_pipelines.dataset import scan_dataset
from ltx_pipelines.frames import extract_frames
from ltx_pipelines.home import Home
from tests import media_factory as media


@pytest.fixture(scope="session")
def tiny_vlm(tmp_path_factory: pytest.TempPathFactory):
    """The tiny-vlm preset, built once per session into a models folder and loaded from it."""
    return resolve_captioner("tiny-vlm", Home(tmp_path_factory.mktemp("vlm-store")).ensure())


def test_tiny_vlm_is_a_saved_transformers_folder(tiny_vlm) -> None:
    files = {p.name for p in Path(tiny_vlm.path).iterdir()}
    assert {"config.json", "model.safetensors", "processor_config.json", "tokenizer.json"} <= files
    assert resolve_captioner(tiny_vlm.path, Home(Path(tiny_vlm.path).parent)).fingerprint == tiny_vlm.fingerprint


def test_clips_without_captions_are_captioned_in_batches_and_cached(tmp_path: Path, tiny_vlm) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    for index in range(3):
        media.write_counter(root / f"clip{index}.mp4", frames=12 + index, width=64, height=64)
    media.write_counter(root / "given.mp4", frames=12, width=48, height=48)
    (root / "given.txt").write_text("a grey square\n")
    spec = DatasetSpec(buckets=[Bucket(width=32, height=32, frames=9)], trigger_word="SKS")
    windows = plan_clips(scan_dataset(root, spec).clips, spec).clips
    frames = extract_frames(windows, spec, tmp_path / "frames").clips
    given = {w.clip_id: w.caption for w in windows}
    captioning = CaptioningSpec(model=tiny_vlm.path, frames=3, max_new_tokens=8, batch_size=2)

    captioner = VlmCaptioner(tiny_vlm, captioning)
    first = build_captions(frames, given, spec.trigger_word, captioner, tmp_path / "captions")
    assert (first.given, first.generated, first.reused, first.quarantined) == (1, 3, 0, [])
    by_clip = {c.clip_id: c for c in first.captions}
    assert by_clip["given.mp4"].text == "SKS a grey square" and by_clip["given.mp4"].source == "given"
    for clip_id in ("clip0.mp4", "clip1.mp4", "clip2.mp4"):
        record = by_clip[clip_id]
        assert record.source == "generated" and record.text.startswith("SKS ") and len(record.text) > 4

    fresh = VlmCaptioner(tiny_vlm, captioning)
    second = build_captions(frames, given, spec.trigger_word, fresh, tmp_path / "captions")
    assert (second.generated, second.reused) == (0, 3)
    assert fresh._loaded is None  # cache hits never load the model
    assert [c.text for c in second.captions] == [c.text for c in first.captions]

    reprompted = VlmCaptioner(tiny_vlm, captioning.model_copy(update={"prompt": "Name the colours."}))
    assert build_captions(frames, given, None, reprompted, tmp_path / "captions").generated == 3
