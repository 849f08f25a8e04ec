"""The one Dagster code location: ``dagster dev -w workspace.yaml`` loads ``defs`` from here."""

import warnings

import dagster as dg

from assets.captions import captions
from assets.checks import quarantine_check
from assets.clips import video_clips
from assets.evaluation import adapter_evaluation
from assets.frames import video_frames
from assets.ingest import raw_videos
from assets.jobs import full_pipeline_job
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
    ],
    asset_checks=[quarantine_check],
    jobs=[full_pipeline_job],
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
