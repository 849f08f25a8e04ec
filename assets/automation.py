"""Automation: the sensor that turns dataset folders into partitions and runs, and the retraining schedule."""

import json
import os
from pathlib import Path

import dagster as dg

from assets.jobs import prepare_dataset_job, train_and_register_job
from assets.partitions import datasets_partitions
from ltx_pipelines.catalog import read_catalog, register_dataset
from ltx_pipelines.discovery import compare_fingerprints, scan_dataset_root
from ltx_pipelines.home import Home

DATASETS_ROOT_ENV = "LTX_DATASETS_ROOT"
RETRAIN_CRON_ENV = "LTX_RETRAIN_CRON"
DEFAULT_RETRAIN_CRON = "0 3 * * 0"  # Sundays 03:00 UTC


def datasets_root(home: Home) -> Path:
    """Where the sensor looks for dataset folders: ``$LTX_DATASETS_ROOT``, else ``<home>/datasets``."""
    return Path(os.environ.get(DATASETS_ROOT_ENV) or home.root / "datasets")


@dg.sensor(
    job=prepare_dataset_job,
    minimum_interval_seconds=30,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Each folder under $LTX_DATASETS_ROOT (default <home>/datasets) is a dataset partition: a new "
    "folder adds the partition and prepares it, a changed one is prepared again, a removed one is reported "
    "(its partition and history are kept). The cursor holds each folder's fingerprint, so nothing is repeated.",
)
def dataset_folders(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    """Compare the folders' fingerprints (paths, sizes, mtimes) with the cursor's and act on the difference."""
    home = Home.from_env().ensure()
    root = datasets_root(home)
    previous: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    current = scan_dataset_root(root)
    changes = compare_fingerprints(previous, current)
    keys = {name: register_dataset(home, root / name) for name in changes.added + changes.changed}
    new_partitions = [
        keys[name] for name in changes.added if not context.instance.has_dynamic_partition("datasets", keys[name])
    ]
    runs = [
        dg.RunRequest(
            run_key=f"{keys[name]}:{current[name]}",
            partition_key=keys[name],
            tags={"ltx/trigger": "new-folder" if name in changes.added else "changed-folder"},
        )
        for name in changes.added + changes.changed
    ]
    folders = {Path(path): key for key, path in read_catalog(home).items()}
    removed = [
        dg.AssetObservation(
            asset_key="raw_videos",
            partition=folders[root.resolve() / name],
            metadata={"folder_removed": dg.MetadataValue.path(str(root / name))},
        )
        for name in changes.removed
        if root.resolve() / name in folders
    ]
    for name in changes.removed:
        context.log.warning(f"dataset folder {root / name} disappeared; its partition and history are kept")
    if changes:
        context.log.info(f"added {changes.added}, changed {changes.changed}, removed {changes.removed}")
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[datasets_partitions.build_add_request(new_partitions)] if new_partitions else [],
        asset_events=removed,
        cursor=json.dumps(current, sort_keys=True),
    )


@dg.schedule(
    job=train_and_register_job,
    cron_schedule=os.environ.get(RETRAIN_CRON_ENV, DEFAULT_RETRAIN_CRON),
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description=f"Retrain every dataset on a cron (${RETRAIN_CRON_ENV}, default '{DEFAULT_RETRAIN_CRON}'); off "
    "until turned on in the UI. Unchanged inputs reuse the trained adapter, so a quiet week costs nothing.",
)
def retrain_schedule(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """One run per prepared dataset partition, keyed by the tick so a retried tick does not launch twice."""
    tick = context.scheduled_execution_time.isoformat()
    prepared = context.instance.get_materialized_partitions(dg.AssetKey("captions"))
    return [
        dg.RunRequest(run_key=f"{key}:{tick}", partition_key=key, tags={"ltx/trigger": "retrain-schedule"})
        for key in context.instance.get_dynamic_partitions("datasets")
        if key in prepared
    ]
