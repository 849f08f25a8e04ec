"""Run the core data stages directly (no Dagster) to get cached training samples."""

from __future__ import annotations

from pathlib import Path

import torch

from ltx_pipelines.captioning import build_captions
from ltx_pipelines.clips import plan_clips
from ltx_pipelines.config import load_recipe
from ltx_pipelines.dataset import scan_dataset
from ltx_pipelines.encoding import LatentRecord, assign_splits, encode_dataset
from ltx_pipelines.frames import extract_frames
from ltx_pipelines.home import Home
from ltx_pipelines.models import ResolvedModel, resolve_model


def prepare_samples(home: Home, folder: Path) -> tuple[ResolvedModel, list[LatentRecord]]:
    """Scan, decode, caption and encode ``folder`` into ``home``'s cache; returns the model and samples."""
    recipe = load_recipe(folder)
    scan = scan_dataset(folder, recipe.dataset)
    windows = plan_clips(scan.clips, recipe.dataset).clips
    frames = extract_frames(windows, recipe.dataset, home.cache("frames"))
    given = {w.clip_id: w.caption for w in windows}
    captions = {c.clip_id: c for c in build_captions(frames.clips, given, recipe.dataset.trigger_word).captions}
    model = resolve_model(recipe.base_model, home)
    encoded = encode_dataset(
        frames.clips, captions, model, home.cache("latents"), home.cache("text"), torch.device("cpu")
    )
    return model, assign_splits(encoded.records, recipe.dataset.holdout_fraction)
