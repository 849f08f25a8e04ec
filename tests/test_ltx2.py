"""The LTX-2 family (audio + video) through the same assets, and its adapters in diffusers' LTX2Pipeline."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from diffusers import LTX2Pipeline

from assets.materialize import materialize_dataset
from ltx_pipelines.demo_data import write_dataset
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.media.probe import probe_video
from ltx_pipelines.registry import RegistryClient
from tests.conftest import FAST_RECIPE

pytestmark = pytest.mark.slow


@pytest.fixture
def sound_dataset(tmp_path: Path, neon_clips: Path) -> Path:
    """Six clips with a tone per shape, two silent ones, and an LTX-2 recipe."""
    folder = tmp_path / "neon-sound"
    write_dataset(folder, count=6, style="neon", seed=5, audio=True)
    for clip in sorted(neon_clips.glob("*.mp4"))[:2]:
        shutil.copy(clip, folder / clip.name)
        shutil.copy(clip.with_suffix(".txt"), folder / clip.with_suffix(".txt").name)
    (folder / "ltx.yaml").write_text(yaml.safe_dump({**FAST_RECIPE, "base_model": "tiny-ltx2"}))
    return folder


def test_ltx2_trains_end_to_end_with_audio(home, sound_dataset: Path) -> None:
    outcome = materialize_dataset(sound_dataset, home)
    assert outcome.success, outcome.failures
    by_asset = {a.asset: a.metadata for a in outcome.materialized}
    assert by_asset["adapter_evaluation"]["adapter_loss"] < by_asset["adapter_evaluation"]["base_loss"]

    latents = _manifest(home, "latents", "neon-sound")
    records = [LatentRecord.from_dict(s) for s in latents["samples"]]
    assert latents["model"]["pipeline_class"] == "LTX2Pipeline"
    assert sorted(r.has_audio for r in records) == [False] * 2 + [True] * 6

    version = RegistryClient(home.mlflow_tracking_uri).get_by_alias("ltx-lora-neon-sound", "candidate")
    assert version.tags["ltx.base_model"] == "tiny-ltx2"

    # The adapter loads into diffusers' LTX2Pipeline and changes what it generates; the ComfyUI copy too.
    training = _manifest(home, "lora_adapter", "neon-sound")
    adapter = training["result"]["adapter"]
    base_path = training["model"]["path"]
    base = _generate(_pipeline(base_path))
    pipeline = _pipeline(base_path)
    pipeline.load_lora_weights(adapter["directory"], adapter_name="trained")
    adapted = _generate(pipeline)
    assert np.abs(adapted - base).mean() > 1e-4
    comfy = _pipeline(base_path)
    comfy.load_lora_weights(adapter["comfyui_file"], adapter_name="comfy")
    np.testing.assert_allclose(_generate(comfy), adapted, atol=1e-5)

    # The registered model generates an MP4 with a sound track.
    generator = RegistryClient(home.mlflow_tracking_uri).load_generator("models:/ltx-lora-neon-sound@candidate")
    video = generator.predict(["a red circle with a low hum"], params={"output_dir": str(home.root), "steps": 3})
    assert probe_video(video["video_path"][0]).has_audio


def test_modalities_choose_which_stream_trains(home, sound_dataset: Path) -> None:
    from ltx_pipelines.models.family import family_for
    from ltx_pipelines.training.objective import collate, flow_matching_loss
    from tests.helpers import prepare_samples

    model, samples = prepare_samples(home, sound_dataset)
    family = family_for(model.pipeline_class)
    geometry = family.geometry(model.path)
    transformer = family.load_transformer(model.path, torch.device("cpu"), torch.float32)
    with_sound = [s for s in samples if s.has_audio][:2]
    batch = collate(with_sound, family, geometry, 24.0, torch.device("cpu"))
    with torch.no_grad():
        both, video, audio = (
            flow_matching_loss(family, transformer, geometry, batch, 24.0, [1, 2], modalities=m)
            for m in ("audio_video", "video", "audio")
        )
    assert (both.audio > 0).all() and (both.video > 0).all()
    assert (video.audio == 0).all() and (video.video > 0).all()
    assert (audio.video == 0).all() and (audio.audio > 0).all()


def _manifest(home, asset: str, partition: str) -> dict:
    import json

    return json.loads((home.root / "manifests" / asset / f"{partition}.json").read_text())


def _pipeline(path: str) -> LTX2Pipeline:
    pipeline = LTX2Pipeline.from_pretrained(path)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


def _generate(pipeline: LTX2Pipeline) -> np.ndarray:
    output = pipeline(
        prompt="a red circle moving from left to right on a dark grid, glowing neon outline, with a low hum",
        width=32,
        height=32,
        num_frames=9,
        num_inference_steps=3,
        guidance_scale=1.0,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
        max_sequence_length=64,
    )
    return np.asarray(output.frames[0])
