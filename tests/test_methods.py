"""Each fine-tuning method through the Dagster graph on tiny models: it trains, evaluates with the scores the
method calls for, registers, and the registered model loads and generates."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from assets.materialize import materialize_dataset
from ltx_pipelines.demo_data import write_pairs
from ltx_pipelines.media.probe import probe_video
from ltx_pipelines.registry import RegistryClient
from tests.conftest import FAST_RECIPE

pytestmark = pytest.mark.slow

QUICK = {
    **FAST_RECIPE,
    "training": {**FAST_RECIPE["training"], "steps": 40},
    "evaluation": {"sigmas": [0.4, 0.8], "seeds": [0], "inference_steps": 3},
}


def _recipe(folder: Path, **sections) -> Path:
    recipe = json.loads(json.dumps(QUICK))
    for key, value in sections.items():
        recipe[key] = {**recipe.get(key, {}), **value} if isinstance(value, dict) else value
    (folder / "ltx.yaml").write_text(yaml.safe_dump(recipe))
    return folder


def _neon(tmp_path: Path, neon_clips: Path, name: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(neon_clips, folder)
    return folder


def _run(home, folder: Path) -> tuple[dict, dict]:
    outcome = materialize_dataset(folder, home)
    assert outcome.success, outcome.failures
    manifests = home.root / "manifests"
    evaluation = json.loads((manifests / "adapter_evaluation" / f"{outcome.partition}.json").read_text())
    latents = json.loads((manifests / "latents" / f"{outcome.partition}.json").read_text())
    return evaluation, latents


def _generate(home, name: str, out: Path, prompt: str = "a red circle moving from left to right", **params):
    generator = RegistryClient(home.mlflow_tracking_uri).load_generator(f"models:/{name}@candidate")
    result = generator.predict([prompt], params={"output_dir": str(out), "steps": 3, **params})
    return Path(result["video_path"][0])


def test_ic_lora_learns_a_paired_transform_and_generates_from_a_reference(home, tmp_path: Path) -> None:
    folder = tmp_path / "invert-pairs"
    write_pairs(folder, count=10, seed=2)
    _recipe(folder, method={"strategy": "in_context"}, training={"steps": 80, "learning_rate": 0.004})
    evaluation, latents = _run(home, folder)
    assert all(s["has_reference"] for s in latents["samples"]) and len(latents["samples"]) == 10
    assert evaluation["heldout"]["adapter"] < evaluation["heldout"]["base"]
    scores = evaluation["in_context"]  # the task metric: sampled vs. held-out target latents (VAE-independent)
    assert scores["clips"] and scores["latent_mse_adapter"] < 0.5 * scores["latent_mse_base"], scores
    assert {"psnr_base", "psnr_adapter", "ssim_base", "ssim_adapter"} <= set(scores)

    reference = sorted(folder.glob("*.ref.mp4"))[0]
    video = _generate(home, "ltx-lora-invert-pairs", tmp_path / "out", reference_path=str(reference))
    assert probe_video(video).frame_count == 9


def test_image_to_video_with_a_lokr_adapter(home, tmp_path: Path, neon_clips: Path) -> None:
    folder = _recipe(
        _neon(tmp_path, neon_clips, "neon-i2v"), method={"strategy": "image_to_video"}, lora={"type": "lokr"}
    )
    evaluation, _ = _run(home, folder)
    assert evaluation["heldout"]["adapter"] < evaluation["heldout"]["base"]
    frames = []
    for colour in ((230, 40, 40), (40, 40, 230)):
        image = tmp_path / f"first-{colour[0]}.png"
        Image.fromarray(np.full((32, 32, 3), colour, dtype=np.uint8)).save(image)
        video = _generate(home, "ltx-lora-neon-i2v", tmp_path / f"out-{colour[0]}", image_path=str(image))
        from ltx_pipelines.config import Bucket
        from ltx_pipelines.media.decode import decode_clip

        frames.append(decode_clip(video, Bucket(width=32, height=32, frames=9)))
    assert np.abs(frames[0].astype(int) - frames[1].astype(int)).mean() > 1.0  # the first frame conditions it


def test_dreambooth_with_prior_preservation_reports_identity_and_leakage(home, tmp_path: Path, neon_clips) -> None:
    folder = _recipe(
        _neon(tmp_path, neon_clips, "neon-subject"),
        dataset={"trigger_word": "sks"},
        prior_preservation={"class_prompt": "a shape moving on a background", "clips": 2, "inference_steps": 2},
        evaluation={"prompts": ["sks a red circle moving from left to right"], "clip_model": "tiny-clip"},
    )
    evaluation, latents = _run(home, folder)
    assert sum(s["split"] == "prior" for s in latents["samples"]) == 2
    assert all(s["caption"].startswith("sks ") for s in latents["samples"] if s["split"] != "prior")
    subject = evaluation["subject"]
    assert set(subject) == {"identity_base", "identity_adapter", "leakage_base", "leakage_adapter"}
    assert all(-1.0 <= v <= 1.0 for v in subject.values())
    assert evaluation["clip"]["alignment_adapter"] == pytest.approx(evaluation["clip"]["alignment_adapter"])
    assert probe_video(_generate(home, "ltx-lora-neon-subject", tmp_path / "out")).frame_count == 9


def test_style_and_instruction_reports_with_a_dora_adapter(home, tmp_path: Path, neon_clips: Path) -> None:
    folder = _recipe(
        _neon(tmp_path, neon_clips, "neon-style"),
        lora={"type": "dora"},
        evaluation={
            "prompts": ["a blue square moving from top to bottom on a dark grid, glowing neon outline"],
            "instruction_check": True,
        },
    )
    evaluation, _ = _run(home, folder)
    assert 0.0 <= evaluation["style"]["histogram_base"] <= 1.0 and 0.0 <= evaluation["style"]["histogram_adapter"] <= 1
    instructions = evaluation["instructions"]
    assert instructions["prompts"] and 0.0 <= instructions["followed_adapter"] <= 1.0
    assert Path(evaluation["contact_sheet"]).exists()
    assert probe_video(_generate(home, "ltx-lora-neon-style", tmp_path / "out")).frame_count == 9


def test_full_fine_tuning_saves_a_transformer_that_generates(home, tmp_path: Path, neon_clips: Path) -> None:
    folder = _recipe(
        _neon(tmp_path, neon_clips, "neon-full"), lora={"type": "full"}, training={"steps": 20, "learning_rate": 0.0005}
    )
    evaluation, _ = _run(home, folder)
    assert evaluation["heldout"]["adapter"] < evaluation["heldout"]["base"]
    pulled = RegistryClient(home.mlflow_tracking_uri).pull("ltx-lora-neon-full@candidate", tmp_path / "pulled")
    assert (pulled / "transformer" / "diffusion_pytorch_model.safetensors").exists()
    assert probe_video(_generate(home, "ltx-lora-neon-full", tmp_path / "out")).frame_count == 9


def test_ltx2_ic_lora_loads_into_diffusers_in_context_pipeline(home, tmp_path: Path) -> None:
    folder = tmp_path / "invert-pairs-ltx2"
    write_pairs(folder, count=6, seed=4)
    _recipe(
        folder,
        base_model="tiny-ltx2",
        method={"strategy": "in_context"},
        training={"steps": 20},
        dataset={**QUICK["dataset"], "holdout_fraction": 0.34},
    )
    evaluation, _ = _run(home, folder)
    assert evaluation["in_context"]["clips"]  # scored through diffusers' LTX2InContextPipeline
    references = sorted(folder.glob("*.ref.mp4"))[:2]
    videos = [
        _generate(home, "ltx-lora-invert-pairs-ltx2", tmp_path / f"out{i}", reference_path=str(path))
        for i, path in enumerate(references)
    ]
    from ltx_pipelines.config import Bucket
    from ltx_pipelines.media.decode import decode_clip

    frames = [decode_clip(v, Bucket(width=32, height=32, frames=9)).astype(int) for v in videos]
    assert np.abs(frames[0] - frames[1]).mean() > 0.5  # the reference conditions the generation
    assert probe_video(videos[0]).has_audio
