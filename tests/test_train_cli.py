"""``ltx-pipelines train`` runs the same fine-tune without Dagster, and Dagster reuses what it produced."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assets.materialize import materialize_dataset
from ltx_pipelines.tensors import load_tensors

pytestmark = pytest.mark.slow


def test_train_command_output_is_reused_by_the_asset_graph(home, dataset: Path, tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(f"dataset: {dataset}\ndevice: cpu\n")
    done = subprocess.run(
        [sys.executable, "-m", "ltx_pipelines.cli", "--home", str(home.root), "train", str(config)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "(trained)" in done.stdout and "held-out loss: base" in done.stdout
    run_dir = Path(done.stdout.split("run folder ")[-1].strip())
    adapter = run_dir / "adapter" / "pytorch_lora_weights.safetensors"
    assert adapter.exists() and (run_dir / "adapter" / "comfyui" / "comfyui_lora.safetensors").exists()
    report = json.loads((run_dir / "evaluation.json").read_text())
    assert report["heldout"]["adapter"] < report["heldout"]["base"]
    weights = load_tensors(adapter)

    outcome = materialize_dataset(dataset, home)
    assert outcome.success, outcome.failures
    by_asset = {a.asset: a.metadata for a in outcome.materialized}
    assert by_asset["latents"]["videos_encoded"] == 0  # the CLI filled the cache
    assert by_asset["lora_adapter"]["status"] == "cached"
    assert by_asset["adapter_evaluation"]["adapter_loss"] == pytest.approx(report["heldout"]["adapter"])
    assert load_tensors(adapter).keys() == weights.keys()
