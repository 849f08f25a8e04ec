"""Orchestration through Dagster's own APIs on real temporary instances: the dataset sensor, data-version
automation, blocking checks and the GPU pool."""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest
import yaml

from assets.automation import DATASETS_ROOT_ENV, dataset_folders, retrain_schedule
from definitions import defs
from ltx_pipelines.catalog import register_dataset
from ltx_pipelines.home import Home

DATA_STAGES = ["raw_videos", "video_clips", "video_frames", "captions"]
GPU_STEPS = {"latents", "lora_adapter"}
TRAIN_IN_SUBPROCESS = """
import sys
import dagster as dg
from tests.test_orchestration import GPU_STEPS, _materialize
with dg.DagsterInstance.get() as instance:
    result = _materialize(instance, sys.argv[1], sorted(GPU_STEPS))
print("RUN", sys.argv[1], result.success, result.run_id)
"""


def _requested(result: dg.EvaluateAutomationConditionsResult, partition: str) -> set[str]:
    return {
        key.to_user_string()
        for key in defs.resolve_asset_graph().get_all_asset_keys()
        if partition in result.get_requested_partitions(key)
    }


def _materialize(instance: dg.DagsterInstance, partition: str, assets: list[str], config: dict | None = None):
    job = defs.resolve_implicit_global_asset_job_def().get_subset(asset_selection={dg.AssetKey(a) for a in assets})
    return job.execute_in_process(
        instance=instance, partition_key=partition, run_config=config or {}, raise_on_error=False
    )


def test_sensor_adds_partitions_and_requests_runs_only_on_change(
    home: Home, neon_clips: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "incoming"
    for name in ("Beach Day", "city"):
        shutil.copytree(neon_clips, root / name)
    monkeypatch.setenv(DATASETS_ROOT_ENV, str(root))
    with dg.instance_for_test() as instance:
        first = dataset_folders(dg.build_sensor_context(instance=instance))
        assert [r.partition_key for r in first.run_requests] == ["beach-day", "city"]
        assert {r.tags["ltx/trigger"] for r in first.run_requests} == {"new-folder"}
        assert [list(p.partition_keys) for p in first.dynamic_partitions_requests] == [["beach-day", "city"]]
        instance.add_dynamic_partitions("datasets", ["beach-day", "city"])

        again = dataset_folders(dg.build_sensor_context(instance=instance, cursor=first.cursor))
        assert again.run_requests == [] and again.dynamic_partitions_requests == []

        caption = sorted((root / "city").glob("*.txt"))[0]
        caption.write_text("a new caption\n")
        changed = dataset_folders(dg.build_sensor_context(instance=instance, cursor=again.cursor))
        assert [(r.partition_key, r.tags["ltx/trigger"]) for r in changed.run_requests] == [("city", "changed-folder")]
        assert changed.dynamic_partitions_requests == []

        shutil.rmtree(root / "Beach Day")
        removed = dataset_folders(dg.build_sensor_context(instance=instance, cursor=changed.cursor))
        assert removed.run_requests == []
        assert [(e.asset_key.to_user_string(), e.partition) for e in removed.asset_events] == [
            ("raw_videos", "beach-day")
        ]
        assert instance.get_dynamic_partitions("datasets") == ["beach-day", "city"]  # history kept


@pytest.mark.slow
def test_caption_edit_requests_only_the_assets_whose_inputs_changed(home: Home, dataset: Path) -> None:
    partition = register_dataset(home, dataset)
    with dg.instance_for_test() as instance:
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)  # the daemon was running before
        instance.add_dynamic_partitions("datasets", [partition])  # the sensor adds the dataset and prepares it
        assert _materialize(instance, partition, DATA_STAGES).success
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick, partition) == {"latents"}  # the data stages are fresh; the next stage is new

        assert _materialize(instance, partition, ["raw_videos"]).success  # same content: same data version
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick, partition) == set()

        caption = sorted(dataset.glob("*.txt"))[0]
        caption.write_text("a lime triangle drifting over a dark background\n")
        assert _materialize(instance, partition, ["raw_videos"]).success
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick, partition) == {"video_clips"}

        assert _materialize(instance, partition, ["video_clips"]).success
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        assert _requested(tick, partition) == {"video_frames", "captions"}

        assert _materialize(instance, partition, ["video_frames", "captions"]).success
        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=tick.cursor)
        # the frames did not change (same data version), the captions did: only what reads captions reruns
        assert _requested(tick, partition) == {"latents"}


@pytest.mark.slow
def test_failing_blocking_check_stops_training(home: Home, dataset: Path) -> None:
    (dataset / "notes.mp4").write_bytes(b"not a video at all")
    recipe = yaml.safe_load((dataset / "ltx.yaml").read_text())
    recipe["dataset"]["max_quarantined_fraction"] = 0.05
    (dataset / "ltx.yaml").write_text(yaml.safe_dump(recipe))
    partition = register_dataset(home, dataset)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("datasets", [partition])
        result = defs.resolve_job_def("full_pipeline").execute_in_process(
            instance=instance, partition_key=partition, raise_on_error=False
        )
        assert not result.success
        checks = {e.asset_check_key.name: e for e in result.get_asset_check_evaluations()}
        assert not checks["quarantine_check"].passed
        assert checks["quarantine_check"].severity == dg.AssetCheckSeverity.ERROR
        assert checks["captions_complete_check"].passed
        materialized = {e.asset_key.to_user_string() for e in result.get_asset_materialization_events()}
        assert materialized == set(DATA_STAGES)  # nothing reached the GPU

        tick = dg.evaluate_automation_conditions(defs=defs, instance=instance)
        assert "latents" not in _requested(tick, partition)  # automation waits for the check too


@pytest.mark.slow
def test_gpu_pool_serializes_two_training_runs(home: Home, neon_clips: Path, tmp_path: Path) -> None:
    partitions = []
    for name in ("first", "second"):
        folder = tmp_path / name
        shutil.copytree(neon_clips, folder)
        (folder / "ltx.yaml").write_text(
            yaml.safe_dump(
                {
                    "dataset": {"buckets": [{"width": 32, "height": 32, "frames": 9}], "holdout_fraction": 0.25},
                    "training": {"steps": 30, "batch_size": 2, "checkpoint_every": 30},
                }
            )
        )
        partitions.append(register_dataset(home, folder))
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("concurrency:\n  pools:\n    default_limit: 1\n")
    from dagster._core.instance.ref import InstanceRef

    with dg.DagsterInstance.from_ref(InstanceRef.from_dir(str(dagster_home))) as instance:
        instance.add_dynamic_partitions("datasets", partitions)
        for partition in partitions:
            assert _materialize(instance, partition, DATA_STAGES).success
        # two runs at once, each in its own process as the run launcher would start them
        environment = {**os.environ, "DAGSTER_HOME": str(dagster_home)}
        logs = [tmp_path / f"{partition}.log" for partition in partitions]
        processes = [
            subprocess.Popen(
                [sys.executable, "-c", TRAIN_IN_SUBPROCESS, partition],
                env=environment,
                stdout=log.open("w"),
                stderr=subprocess.STDOUT,
            )
            for partition, log in zip(partitions, logs, strict=True)
        ]
        for process in processes:
            process.wait(timeout=600)
        outputs = [log.read_text() for log in logs]
        run_ids = {}
        for partition, output in zip(partitions, outputs, strict=True):
            assert f"RUN {partition} True" in output, output[-3000:]
            run_ids[partition] = output.split(f"RUN {partition} True ")[1].split()[0]
        intervals = []
        for partition in partitions:
            starts, ends = {}, {}
            for entry in instance.all_logs(run_ids[partition]):
                event = entry.dagster_event
                if event is None or event.step_key not in GPU_STEPS:
                    continue
                if event.event_type == dg.DagsterEventType.STEP_START:
                    starts[event.step_key] = entry.timestamp
                if event.is_step_success:
                    ends[event.step_key] = entry.timestamp
            intervals += [(starts[k], ends[k], f"{partition}/{k}") for k in GPU_STEPS]
        intervals.sort()
        for (_, end, name), (start, _, following) in itertools.pairwise(intervals):
            assert start >= end, f"{following} started while {name} held the gpu pool"


def test_retrain_schedule_requests_prepared_datasets_only(home: Home) -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("datasets", ["prepared", "new"])
        instance.report_runless_asset_event(dg.AssetMaterialization("captions", partition="prepared"))
        tick = datetime(2026, 12, 6, 3, tzinfo=UTC)
        context = dg.build_schedule_context(instance=instance, scheduled_execution_time=tick)
        requests = retrain_schedule(context)
        assert [r.partition_key for r in requests] == ["prepared"]
        assert requests[0].tags["ltx/trigger"] == "retrain-schedule"
        assert retrain_schedule.default_status == dg.DefaultScheduleStatus.STOPPED


def _flaky_asset(errors: list[Exception], attempts: list[int]):
    from assets.retries import retry_transient

    @dg.asset
    @retry_transient
    def flaky(context) -> int:
        attempts.append(context.retry_number)
        if errors:
            raise errors.pop(0)
        return 1

    return flaky


def test_transient_failures_are_retried_and_deterministic_ones_are_not(monkeypatch: pytest.MonkeyPatch) -> None:
    from assets import retries
    from ltx_pipelines.registry import RegistryUnavailableError

    monkeypatch.setattr(retries, "FIRST_WAIT_SECONDS", 0.0)
    with dg.instance_for_test() as instance:  # one real instance for the retries to run on
        attempts: list[int] = []
        unavailable = RegistryUnavailableError("MLflow at http://mlflow:5000 unavailable after 5 attempts")
        result = dg.materialize(
            [_flaky_asset([unavailable, ConnectionResetError("reset")], attempts)], instance=instance
        )
        assert result.success and attempts == [0, 1, 2]  # two transient failures, then success

        attempts = []
        bad_input = ValueError("clip.mp4: not a media file")
        result = dg.materialize([_flaky_asset([bad_input], attempts)], raise_on_error=False, instance=instance)
        assert not result.success and attempts == [0]  # a deterministic failure fails once

        attempts = []
        down = [RegistryUnavailableError("MLflow down") for _ in range(retries.MAX_RETRIES + 1)]
        result = dg.materialize([_flaky_asset(down, attempts)], raise_on_error=False, instance=instance)
        assert not result.success and attempts == list(range(retries.MAX_RETRIES + 1))  # gives up after the limit
