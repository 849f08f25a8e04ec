"""Incremental data stages through Dagster: one clip added, changed or deleted recomputes that clip only."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.materialize import open_instance
from ltx_pipelines.catalog import register_dataset
from ltx_pipelines.demo_data import clip_specs, render_clip, write_dataset
from ltx_pipelines.home import Home
from ltx_pipelines.media.encode import write_video
from tests.conftest import FAST_RECIPE

pytestmark = pytest.mark.slow

DATA_ASSETS = ["raw_videos", "video_clips", "video_frames", "captions", "latents"]


def _materialize(home: Home, partition: str) -> dict[str, dict]:
    from definitions import defs

    assets = [defs.get_assets_def(name) for name in DATA_ASSETS]
    with open_instance(home) as instance:
        if not instance.has_dynamic_partition("datasets", partition):
            instance.add_dynamic_partitions("datasets", [partition])
        result = dg.materialize(
            [*assets, defs.get_asset_checks_def(dg.AssetCheckKey(dg.AssetKey("captions"), "quarantine_check"))],
            instance=instance,
            partition_key=partition,
            resources=defs.resources,
            raise_on_error=True,
        )
        outcome = {}
        for event in result.get_asset_materialization_events():
            materialization = event.materialization
            outcome[event.asset_key.to_user_string()] = {
                **{k: v.value for k, v in materialization.metadata.items()},
                "data_version": materialization.tags["dagster/data_version"],
            }
        (check,) = result.get_asset_check_evaluations()
        outcome["quarantine_check"] = {"passed": check.passed, **{k: v.value for k, v in check.metadata.items()}}
        return outcome


def _work(outcome: dict[str, dict]) -> dict[str, int]:
    return {
        "probed": outcome["raw_videos"]["probed"],
        "decoded": outcome["video_frames"]["decoded"],
        "captioned": outcome["captions"]["generated"],
        "encoded": outcome["latents"]["videos_encoded"],
    }


def test_adding_changing_deleting_one_clip_recomputes_only_that_clip(home: Home, tmp_path: Path) -> None:
    folder = tmp_path / "shapes"
    write_dataset(folder, count=12, style="plain", seed=5)
    for caption in sorted(folder.glob("*.txt"))[:3]:
        caption.unlink()  # three clips for the captioner
    recipe = {
        **FAST_RECIPE,
        "dataset": {**FAST_RECIPE["dataset"], "captioning": {"model": "tiny-vlm", "max_new_tokens": 8}},
    }
    (folder / "ltx.yaml").write_text(yaml.safe_dump(recipe))
    partition = register_dataset(home, folder)

    first = _materialize(home, partition)
    assert _work(first) == {"probed": 12, "decoded": 12, "captioned": 3, "encoded": 12}
    assert first["captions"]["given"] == 9 and first["quarantine_check"]["passed"]

    unchanged = _materialize(home, partition)
    assert _work(unchanged) == {"probed": 0, "decoded": 0, "captioned": 0, "encoded": 0}
    for asset in DATA_ASSETS:
        assert unchanged[asset]["data_version"] == first[asset]["data_version"], asset

    spec = clip_specs("plain", 13, seed=5)[12]
    write_video(folder / "added.mp4", render_clip(spec, seed=99))  # no caption: the VLM captions it
    added = _materialize(home, partition)
    assert _work(added) == {"probed": 1, "decoded": 1, "captioned": 1, "encoded": 1}
    assert added["latents"]["samples"] == 13
    for asset in DATA_ASSETS:
        assert added[asset]["data_version"] != first[asset]["data_version"], asset

    changed_clip = sorted(folder.glob("*.mp4"))[5]
    write_video(changed_clip, render_clip(spec, seed=7))
    changed = _materialize(home, partition)
    assert _work(changed) == {"probed": 1, "decoded": 1, "captioned": 0, "encoded": 1}

    shutil.move(str(folder / "added.mp4"), str(tmp_path / "removed.mp4"))
    deleted = _materialize(home, partition)
    assert _work(deleted) == {"probed": 0, "decoded": 0, "captioned": 0, "encoded": 0}
    assert deleted["latents"]["samples"] == 12
    assert deleted["video_frames"]["data_version"] != changed["video_frames"]["data_version"]
