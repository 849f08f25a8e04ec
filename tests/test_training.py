"""The LoRA trainer on the tiny LTX-Video preset: it learns, saves loadable adapters and resumes exactly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import LTXPipeline

from ltx_pipelines.config import load_recipe
from ltx_pipelines.tensors import load_tensors
from ltx_pipelines.training.loop import TrainingJob, completed_result, train_lora
from ltx_pipelines.training.lora import read_adapter_metadata
from tests.helpers import prepare_samples


class Interrupted(Exception):
    pass


@pytest.fixture
def job(home, dataset) -> TrainingJob:
    model, samples = prepare_samples(home, dataset)
    recipe = load_recipe(dataset)
    return TrainingJob(
        model=model,
        samples=[s for s in samples if s.split == "train"],
        lora=recipe.lora,
        training=recipe.training,
        run_dir=home.runs / "run",
        frame_rate=24.0,
        device=torch.device("cpu"),
        adapter_metadata={"dataset": "neon-shapes", "trigger_word": None},
    )


def _generate(pipeline: LTXPipeline, prompt: str = "a red circle moving from left to right") -> np.ndarray:
    return pipeline(
        prompt=prompt,
        width=32,
        height=32,
        num_frames=9,
        num_inference_steps=4,
        guidance_scale=1.0,
        generator=torch.Generator().manual_seed(0),
        output_type="np",
    ).frames[0]


def test_training_lowers_the_loss_and_writes_both_formats(job: TrainingJob) -> None:
    result = train_lora(job)
    first, last = np.mean(result.losses[:10]), np.mean(result.losses[-10:])
    assert last < 0.8 * first, f"loss did not fall enough: {first:.3f} -> {last:.3f}"
    assert Path(result.adapter.diffusers_file).name == "pytorch_lora_weights.safetensors"
    assert all(k.startswith("transformer.") for k in load_tensors(result.adapter.diffusers_file))
    assert all(k.startswith("diffusion_model.") for k in load_tensors(result.adapter.comfyui_file))
    metadata = read_adapter_metadata(result.adapter.diffusers_file)
    assert metadata["base_model"] == "tiny-ltx-video" and metadata["rank"] == 8 and metadata["steps"] == 60
    assert completed_result(job.run_dir) == result


def test_adapter_loads_into_ltx_pipeline_and_changes_its_output(job: TrainingJob) -> None:
    result = train_lora(job)
    pipeline = LTXPipeline.from_pretrained(job.model.path)
    pipeline.set_progress_bar_config(disable=True)
    base = _generate(pipeline)
    pipeline.load_lora_weights(result.adapter.directory, adapter_name="trained")
    adapted = _generate(pipeline)
    assert np.abs(adapted - base).mean() > 1e-3

    # The ComfyUI-format copy goes through diffusers' own converter and gives the same generation.
    comfy = LTXPipeline.from_pretrained(job.model.path)
    comfy.set_progress_bar_config(disable=True)
    comfy.load_lora_weights(result.adapter.comfyui_file, adapter_name="comfy")
    np.testing.assert_allclose(_generate(comfy), adapted, atol=1e-5)


def test_interrupted_run_resumes_to_the_identical_adapter(job: TrainingJob, tmp_path: Path) -> None:
    short = replace(job, training=job.training.model_copy(update={"steps": 12, "checkpoint_every": 4}))
    straight = train_lora(replace(short, run_dir=tmp_path / "straight"))

    def crash_at_step_7(log) -> None:
        if log.step == 7:
            raise Interrupted

    resumed_dir = tmp_path / "resumed"
    with pytest.raises(Interrupted):
        train_lora(replace(short, run_dir=resumed_dir), on_step=crash_at_step_7)
    assert completed_result(resumed_dir) is None
    resumed = train_lora(replace(short, run_dir=resumed_dir))
    assert resumed.resumed_from == 4
    assert resumed.losses == straight.losses
    a, b = load_tensors(straight.adapter.diffusers_file), load_tensors(resumed.adapter.diffusers_file)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_nan_loss_stops_with_the_last_good_checkpoint_kept(job: TrainingJob) -> None:
    from ltx_pipelines.tensors import save_tensors
    from ltx_pipelines.training.checkpoint import list_checkpoints
    from ltx_pipelines.training.loop import TrainingDivergedError
    from ltx_pipelines.training.schedule import BatchSchedule

    spec = job.training.model_copy(update={"steps": 10, "batch_size": 1, "checkpoint_every": 2})
    job = replace(job, training=spec)
    schedule = BatchSchedule([s.bucket for s in job.samples], 1, spec.seed)
    poisoned = job.samples[schedule.batch(4)[0]]  # first seen at step 5 (batch size 1, one epoch = all clips)
    assert all(schedule.batch(m)[0] != schedule.batch(4)[0] for m in range(4))
    latents = load_tensors(poisoned.latent_path)
    latents["latents"][0, 0, 0, 0] = float("nan")
    save_tensors(poisoned.latent_path, latents)

    with pytest.raises(
        TrainingDivergedError, match=r"loss became nan at step 5; the last good checkpoint is .*step-00000004"
    ):
        train_lora(job)
    kept = list_checkpoints(job.run_dir / "checkpoints")
    assert [p.name for p in kept] == ["step-00000002.safetensors", "step-00000004.safetensors"]
    assert all(torch.isfinite(t).all() for t in load_tensors(kept[-1]).values() if t.is_floating_point())
    assert completed_result(job.run_dir) is None


def test_validation_samples_are_rendered_while_training(job: TrainingJob) -> None:
    from ltx_pipelines.config import ValidationSpec

    validation = ValidationSpec(every=5, prompts=["a red circle", "a blue square"], inference_steps=2)
    spec = job.training.model_copy(update={"steps": 10, "validation": validation})
    train_lora(replace(job, training=spec))
    for step in (5, 10):
        folder = job.run_dir / "samples" / f"step-{step:08d}"
        assert sorted(p.name for p in folder.iterdir()) == ["contact_sheet.png", "prompt-00.mp4", "prompt-01.mp4"]
    from ltx_pipelines.media.probe import probe_video

    info = probe_video(job.run_dir / "samples" / "step-00000010" / "prompt-00.mp4")
    assert (info.width, info.height, info.frame_count) == (32, 32, 9)


def test_adamw8bit_refuses_cpu_with_a_clear_error(job: TrainingJob) -> None:
    from ltx_pipelines.training.loop import _optimizer

    spec = job.training.model_copy(update={"optimizer": "adamw8bit"})
    with pytest.raises(ValueError, match="adamw8bit needs a CUDA device"):
        _optimizer([torch.nn.Parameter(torch.zeros(1))], spec, torch.device("cpu"))


@pytest.mark.parametrize("kind", ["lora", "dora", "lokr", "loha", "ia3", "full"])
def test_every_adapter_type_saves_and_loads_back(job: TrainingJob, kind: str) -> None:
    from ltx_pipelines.models.family import GenerationSettings
    from ltx_pipelines.training.adapters import adapter_type

    lora = job.lora.model_copy(update={"type": kind, "target_modules": ["attention", "ffn"]})
    spec = job.training.model_copy(update={"steps": 4, "learning_rate": 0.01 if kind != "full" else 0.001})
    result = train_lora(replace(job, lora=lora, training=spec))
    assert adapter_type(result.adapter.directory) == kind
    assert (result.adapter.comfyui_file != "") == (kind == "lora")

    from ltx_pipelines.generation import Generator

    settings = GenerationSettings(width=32, height=32, frames=9, steps=2)
    first = Generator.from_model(job.model, result.adapter.directory, settings, torch.device("cpu"))
    second = Generator.from_model(job.model, result.adapter.directory, settings, torch.device("cpu"))
    adapted = first("a red circle", seed=0).frames
    np.testing.assert_array_equal(adapted, second("a red circle", seed=0).frames)  # loads back the same
    base = first("a red circle", seed=0, adapter_scale=0.0).frames
    assert np.abs(adapted.astype(int) - base.astype(int)).mean() > 0.05  # and it changes the output
