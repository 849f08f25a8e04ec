"""Jobs a user launches from the Launchpad (each partitioned by dataset, each asset's config typed there)."""

import dagster as dg

from assets.partitions import datasets_partitions

DATA_STAGES = dg.AssetSelection.assets("raw_videos", "video_clips", "video_frames", "captions")
TRAINING_STAGES = dg.AssetSelection.assets("latents", "lora_adapter", "adapter_evaluation", "registered_adapter")

full_pipeline_job = dg.define_asset_job(
    "full_pipeline",
    selection=DATA_STAGES | TRAINING_STAGES,
    partitions_def=datasets_partitions,
    description="Ingest, extract frames, caption, encode, train, evaluate and register one dataset.",
)

prepare_dataset_job = dg.define_asset_job(
    "prepare_dataset",
    selection=DATA_STAGES,
    partitions_def=datasets_partitions,
    description="Scan, validate and quarantine, cut clips, extract frames into buckets and caption one dataset "
    "(CPU only; what the dataset sensor launches).",
)

train_and_register_job = dg.define_asset_job(
    "train_and_register",
    selection=TRAINING_STAGES,
    partitions_def=datasets_partitions,
    description="Encode latents, train the adapter, evaluate it against the base and the champion, and register "
    "it in MLflow (what the retraining schedule launches).",
)

evaluate_champion_job = dg.define_asset_job(
    "evaluate_champion",
    selection=dg.AssetSelection.assets("champion_evaluation"),
    partitions_def=datasets_partitions,
    description="Evaluate a registered champion (default: this dataset's) on this dataset's clips vs. the base.",
)

JOBS = [full_pipeline_job, prepare_dataset_job, train_and_register_job, evaluate_champion_job]
