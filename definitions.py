"""The one Dagster code location: ``dagster dev -w workspace.yaml`` loads ``defs`` from here."""

import warnings

import dagster as dg

from assets.automation import dataset_folders, retrain_schedule
from assets.captions import captions
from assets.champion import champion_evaluation
from assets.checks import ALL_CHECKS
from assets.clips import video_clips
from assets.evaluation import adapter_evaluation
from assets.frames import video_frames
from assets.ingest import raw_videos
from assets.jobs import JOBS
from assets.latents import latents
from assets.registry import registered_adapter
from assets.training import lora_adapter
from resources import (
    BaseModelResource,
    CaptionerResource,
    ComputeResource,
    ManifestIOManager,
    MlflowResource,
    StorageResource,
)
from resources.executors import executor_from_env

# Content-based data versions (Output(data_version=...)) are how "unsynced" means something; Dagster still
# labels the parameter beta.
warnings.filterwarnings("ignore", category=dg.BetaWarning)

storage = StorageResource()

defs = dg.Definitions(
    assets=[
        raw_videos,
        video_clips,
        video_frames,
        captions,
        latents,
        lora_adapter,
        adapter_evaluation,
        registered_adapter,
        champion_evaluation,
    ],
    asset_checks=ALL_CHECKS,
    jobs=JOBS,
    sensors=[dataset_folders],
    schedules=[retrain_schedule],
    resources={
        "storage": storage,
        "manifest_io": ManifestIOManager(storage=storage),
        "base_model": BaseModelResource(),
        "compute": ComputeResource(),
        "captioner": CaptionerResource(),
        "mlflow": MlflowResource(),
    },
    executor=executor_from_env(),  # LTX_EXECUTOR: unset (Dagster's default), in_process, celery, k8s: docs/deploy.md
)
