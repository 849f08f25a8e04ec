"""The whole asset graph on a real Dagster instance and a real MLflow (SQLite) store."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from assets.materialize import materialize_dataset, open_instance
from ltx_pipelines.cli import ASSET_ORDER
from ltx_pipelines.registry import RegistryClient

pytestmark = pytest.mark.slow


@pytest.fixture
def messy_dataset(dataset: Path) -> Path:
    """The neon clips plus a text file posing as a video and a clip cut short."""
    (dataset / "notes.mp4").write_bytes(b"definitely not a video\n" * 50)
    whole = sorted(dataset.glob("*.mp4"))[0].read_bytes()
    (dataset / "cut_short.mp4").write_bytes(whole[: len(whole) // 2])
    return dataset


def _metadata(instance: dg.DagsterInstance, asset: str, partition: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(asset))
    assert event is not None and event.asset_materialization.partition == partition
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def test_full_graph_trains_evaluates_and_registers(home, messy_dataset: Path) -> None:
    outcome = materialize_dataset(messy_dataset, home)
    assert outcome.success, outcome.failures
    assert outcome.partition == "neon-shapes"
    assert sorted(a.asset for a in outcome.materialized) == sorted(ASSET_ORDER)

    with open_instance(home) as instance:
        raw = _metadata(instance, "raw_videos", "neon-shapes")
        quarantine = {row.data["path"]: row.data["reason"] for row in raw["quarantine"].records}
        assert set(quarantine) == {"notes.mp4", "cut_short.mp4"}
        assert quarantine["notes.mp4"] == "not a media file"
        assert quarantine["cut_short.mp4"] == "unreadable: damaged or incomplete container"  # index cut off
        assert raw["clips"] == 10
        check = instance.event_log_storage.get_latest_asset_check_execution_by_key(
            [dg.AssetCheckKey(dg.AssetKey("captions"), "quarantine_check")]
        )
        assert check  # the quarantine check ran with the job

        evaluation = _metadata(instance, "adapter_evaluation", "neon-shapes")
        assert evaluation["adapter_loss"] < evaluation["base_loss"]
        frames = _metadata(instance, "video_frames", "neon-shapes")
        assert frames["decoded"] == 10 and "data:image/png;base64," in frames["contact_sheet"]
        assert "data:image/png;base64," in _metadata(instance, "lora_adapter", "neon-shapes")["loss_curve"]

    client = RegistryClient(home.mlflow_tracking_uri)
    version = client.get_by_alias("ltx-lora-neon-shapes", "candidate")
    assert version.version == "1"
    tags = version.tags
    assert tags["ltx.dataset"] == "neon-shapes"
    assert tags["ltx.dagster_run_id"] == outcome.run_id
    assert tags["ltx.base_model"] == "tiny-ltx-video"
    assert tags["ltx.mlflow_run_id"] == version.run_id
    assert tags["ltx.dataset_version"] and tags["ltx.code_version"] and tags["ltx.adapter_sha256"]
    assert version.metrics["eval/adapter_loss"] == pytest.approx(evaluation["adapter_loss"])

    # Nothing changed: everything is reused and the registry gains no second version.
    again = materialize_dataset(messy_dataset, home)
    assert again.success
    by_asset = {a.asset: a.metadata for a in again.materialized}
    assert by_asset["video_frames"]["decoded"] == 0 and by_asset["video_frames"]["reused"] == 10
    assert by_asset["lora_adapter"]["status"] == "cached"
    assert by_asset["registered_adapter"]["status"] == "existing"
    assert [v["version"] for v in client.list_models()[0]["versions"]] == ["1"]

    # The CLI sees the same registry.
    listing = subprocess.run(
        [sys.executable, "-m", "ltx_pipelines.cli", "--home", str(home.root), "registry", "list", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    models = json.loads(listing.stdout)
    assert models[0]["name"] == "ltx-lora-neon-shapes"
    assert models[0]["versions"][0]["aliases"] == ["candidate", "champion"]
    assert models[0]["versions"][0]["tags"]["ltx.dataset"] == "neon-shapes"
