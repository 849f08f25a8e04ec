"""Jobs a user launches: the whole graph for one dataset partition."""

import dagster as dg

from assets.partitions import datasets_partitions

full_pipeline_job = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all(),
    partitions_def=datasets_partitions,
    description="Ingest, extract frames, caption, encode, train, evaluate and register one dataset.",
)
