"""Shared fixtures: a tiny base model built once per session, synthetic clips, an isolated home."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from ltx_pipelines.demo_data import write_dataset
from ltx_pipelines.home import HOME_ENV, Home
from ltx_pipelines.models import resolve_model

ISOLATED_ENV = ("DAGSTER_HOME", "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "LTX_EXECUTOR")

# Small settings that still learn: 32×32×9 clips (3×8×8 latents), a few dozen steps.
FAST_RECIPE = {
    "dataset": {"buckets": [{"width": 32, "height": 32, "frames": 9}], "holdout_fraction": 0.25},
    "lora": {"rank": 8, "alpha": 8},
    "training": {
        "steps": 60,
        "batch_size": 4,
        "learning_rate": 0.003,
        "warmup_steps": 5,
        "checkpoint_every": 30,
    },
    "evaluation": {"sigmas": [0.3, 0.6, 0.9], "seeds": [0, 1]},
}


@pytest.fixture(scope="session")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``models/`` with the tiny LTX-Video preset built (once per session, offline)."""
    home = Home(tmp_path_factory.mktemp("model-store")).ensure()
    resolve_model("tiny-ltx-video", home)
    return home.models


@pytest.fixture
def home(tmp_path: Path, model_store: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    """A fresh LTX_PIPELINES_HOME sharing the prebuilt tiny model."""
    home = Home(tmp_path / "ltx").ensure()
    home.models.rmdir()
    home.models.symlink_to(model_store, target_is_directory=True)
    monkeypatch.setenv(HOME_ENV, str(home.root))
    for variable in ISOLATED_ENV:  # a developer's own tier settings must not leak into the embedded-default tests
        monkeypatch.delenv(variable, raising=False)
    return home


@pytest.fixture(scope="session")
def neon_clips(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Ten synthetic neon-style clips with captions (written once)."""
    folder = tmp_path_factory.mktemp("neon-clips")
    write_dataset(folder, count=10, style="neon", seed=3)
    return folder


@pytest.fixture
def dataset(tmp_path: Path, neon_clips: Path) -> Path:
    """A private copy of the neon clips with the fast recipe as its ltx.yaml."""
    folder = tmp_path / "neon-shapes"
    shutil.copytree(neon_clips, folder)
    (folder / "ltx.yaml").write_text(yaml.safe_dump(FAST_RECIPE))
    return folder
