"""The demo base model: pre-training lowers the denoising loss, and the preset loads and generates like any model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ltx_pipelines.config import Bucket, DatasetSpec, EvaluationSpec, Recipe, load_recipe
from ltx_pipelines.dataset import scan_dataset
from ltx_pipelines.demo_data import DEMO_CLIP, PRIOR_FOLDER, write_dataset, write_demo_dataset
from ltx_pipelines.evaluation.denoising import BASE, denoising_losses
from ltx_pipelines.home import Home
from ltx_pipelines.models import presets, resolve_model
from ltx_pipelines.models.family import GenerationSettings, family_for
from ltx_pipelines.models.pretrain import PretrainSpec, pretrain_demo_model
from ltx_pipelines.workflow import prepare_clip_set

SMALL = PretrainSpec(steps=60, clips_per_style=12, styles=("plain", "night"))
CPU = torch.device("cpu")


def _loss(model, home: Home, folder: Path) -> float:
    recipe = Recipe(dataset=DatasetSpec(buckets=[Bucket(**DEMO_CLIP)], holdout_fraction=0.0))
    samples = prepare_clip_set(folder, recipe, model, home, CPU).samples
    losses = denoising_losses(model, {}, samples, EvaluationSpec(sigmas=[0.3, 0.6], seeds=[0]), 24.0, CPU)[BASE]
    return float(np.mean(list(losses.values())))


def test_pretrained_preset_denoises_better_and_loads_with_from_pretrained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = []

    def small_build(target: Path) -> Path:
        built.append(target)
        return pretrain_demo_model(target, SMALL, progress=False).path

    monkeypatch.setitem(presets.PRESETS, "demo-ltx-video", small_build)
    home = Home(tmp_path / "home").ensure()
    model = resolve_model("demo-ltx-video", home)
    assert Path(model.path) == home.models / f"demo-ltx-video-v{presets.PRESET_VERSION}"
    assert resolve_model("demo-ltx-video", home).fingerprint == model.fingerprint and len(built) == 1  # cached
    assert not list(home.models.glob(".*"))  # no scratch or temp folder left beside it

    # Fresh clips of the pre-training styles (another seed): the pre-trained transformer beats its random init.
    clips = tmp_path / "fresh"
    for index, style in enumerate(SMALL.styles):
        write_dataset(clips / style, count=3, style=style, seed=50 + index, **DEMO_CLIP)
    init = resolve_model(str(presets.build_tiny_ltx_video(tmp_path / "init", seed=SMALL.seed)), home)
    before, after = _loss(init, home, clips), _loss(model, home, clips)
    assert after < 0.5 * before, (before, after)

    # The real loading path: from_pretrained, then generate.
    family = family_for(model.pipeline_class)
    pipeline = family.load_pipeline(model.path, CPU, torch.float32)
    settings = GenerationSettings(width=32, height=32, frames=9, steps=2)
    clip = family.generate(pipeline, "a red circle moving from left to right on a soft background", settings, 0)
    assert clip.frames.shape == (9, 32, 32, 3) and clip.frames.dtype == np.uint8


def test_demo_dataset_names_the_demo_base_and_keeps_its_prior_set_apart(tmp_path: Path) -> None:
    folder = tmp_path / "neon-shapes"
    paths = write_demo_dataset(folder, count=4, prior_count=1)
    recipe = load_recipe(folder)
    assert recipe.base_model == "demo-ltx-video" and "demo-ltx-video" in presets.PRESETS
    assert recipe.evaluation.prior_clips == PRIOR_FOLDER and len(recipe.evaluation.prompts) == 2
    assert recipe.dataset.buckets == [Bucket(**DEMO_CLIP)]
    assert sorted(c.clip_id for c in scan_dataset(folder, recipe.dataset).clips) == sorted(p.name for p in paths)
    prior = scan_dataset(folder / PRIOR_FOLDER, recipe.dataset).clips
    assert sorted(c.clip_id.split("_")[0] for c in prior) == ["night", "outline", "plain"]


def test_writing_the_demo_dataset_again_leaves_unchanged_clips_untouched(tmp_path: Path) -> None:
    """The encoder's bytes may differ between runs for the same frames: an unchanged clip must keep its bytes
    (and mtime), or every `make demo` would look like new data to the content-addressed caches."""
    folder = tmp_path / "demo"
    write_demo_dataset(folder, count=6, prior_count=1)
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*.mp4")}
    write_demo_dataset(folder, count=6, prior_count=1)
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in folder.rglob("*.mp4")} == before
    changed = sorted(folder.glob("*.mp4"))[0]
    changed.write_bytes(b"edited by hand")
    write_demo_dataset(folder, count=6, prior_count=1)
    assert changed.read_bytes() != b"edited by hand"  # a clip that is not what the generator makes is rewritten
