"""Two processes (torchrun, gloo on CPU) train what one process trains, and their checkpoint resumes in one."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from ltx_pipelines.config import load_recipe
from ltx_pipelines.tensors import load_tensors
from ltx_pipelines.training.launch import run_torchrun
from ltx_pipelines.training.loop import TrainingJob, completed_result, train_lora
from tests.helpers import prepare_samples

pytestmark = pytest.mark.slow


def _assert_same_adapter(a: Path, b: Path) -> None:
    left, right = load_tensors(a), load_tensors(b)
    assert left.keys() == right.keys()
    for key in left:
        torch.testing.assert_close(left[key], right[key], atol=2e-5, rtol=1e-4, msg=key)


def test_two_processes_match_one_and_resume_in_one(home, dataset: Path, tmp_path: Path) -> None:
    model, samples = prepare_samples(home, dataset)
    recipe = load_recipe(dataset)
    training = recipe.training.model_copy(update={"steps": 6, "batch_size": 4, "checkpoint_every": 3})
    job = TrainingJob(
        model,
        [s for s in samples if s.split == "train"],
        recipe.lora,
        training,
        tmp_path / "one",
        24.0,
        torch.device("cpu"),
    )
    one = train_lora(job)

    lines: list[str] = []
    result = run_torchrun(replace(job, run_dir=tmp_path / "two"), 2, on_line=lines.append)  # what the asset calls
    assert any("world size 2" in line for line in lines)
    _assert_same_adapter(Path(one.adapter.diffusers_file), Path(result.adapter.diffusers_file))
    assert result.losses == pytest.approx(one.losses, rel=1e-4)

    lines = []
    with pytest.raises(RuntimeError, match="torchrun with 2 processes failed"):
        run_torchrun(replace(job, run_dir=tmp_path / "resumed"), 2, on_line=lines.append, extra=["--stop-after", "3"])
    assert any("stopped after step 3" in line for line in lines)
    assert completed_result(tmp_path / "resumed") is None
    resumed = train_lora(replace(job, run_dir=tmp_path / "resumed"))
    assert resumed.resumed_from == 3
    _assert_same_adapter(Path(one.adapter.diffusers_file), Path(resumed.adapter.diffusers_file))
