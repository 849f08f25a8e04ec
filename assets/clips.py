"""video_clips: cut each source into bucket-sized windows (optional scene split), quarantine what fits no bucket."""

from collections import Counter

import dagster as dg

from assets.conditions import on_input_data_change
from assets.metadata import quarantine_table, table
from assets.partitions import datasets_partitions
from assets.retries import retry_transient
from ltx_pipelines import clips as clips_core
from ltx_pipelines.config import with_overrides
from ltx_pipelines.dataset import SourceClip
from ltx_pipelines.hashing import cache_key
from resources import StorageResource


class ClipsConfig(dg.Config):
    """Overrides of the recipe's ``dataset.scenes`` settings (unset = recipe value)."""

    scene_split: bool | None = None
    scene_threshold: float | None = None
    max_clips_per_video: int | None = None


@dg.asset(
    partitions_def=datasets_partitions,
    automation_condition=on_input_data_change(),
    code_version=clips_core.CODE_VERSION,
    group_name="dataset",
    io_manager_key="manifest_io",
    kinds={"pyscenedetect"},
)
@retry_transient
def video_clips(
    context: dg.AssetExecutionContext, config: ClipsConfig, storage: StorageResource, raw_videos: dict
) -> dg.Output[dict]:
    """One window per video (or per scene with ``dataset.scenes.enabled``), each assigned to the bucket of nearest
    aspect ratio and the longest frame count it fills; images need a 1-frame bucket. Sources too short or too
    small are quarantined. Scene lists are cached by content."""
    spec = storage.recipe(context.partition_key).dataset
    scenes = with_overrides(
        spec.scenes,
        {
            "enabled": config.scene_split,
            "threshold": config.scene_threshold,
            "max_clips_per_video": config.max_clips_per_video,
        },
    )
    spec = spec.model_copy(update={"scenes": scenes})
    sources = [SourceClip.from_dict(c) for c in raw_videos["clips"]]
    result = clips_core.plan_clips(sources, spec, storage.get_home().cache("scenes"))
    for entry in result.quarantined:
        context.log.warning(f"quarantined {entry.path}: {entry.reason}")
    quarantined = raw_videos["quarantined"] + [q.to_dict() for q in result.quarantined]
    windows = [c.to_dict() for c in result.clips]
    version = cache_key(
        [(c.clip_id, c.key, c.bucket, c.caption) for c in result.clips], [(q["path"], q["reason"]) for q in quarantined]
    )
    rows = [
        {"clip_id": w.clip_id, "start": f"{w.start:.2f}", "seconds": f"{w.seconds:.2f}", "bucket": w.bucket}
        for w in result.clips
    ]
    return dg.Output(
        {"data_version": version, "clips": windows, "quarantined": quarantined},
        data_version=dg.DataVersion(version),
        metadata={
            "clips": len(windows),
            "sources": len(sources),
            "scene_split": spec.scenes.enabled,
            "scenes_detected": result.scenes_detected,
            "scenes_reused": result.scenes_reused,
            "short_scenes_dropped": result.short_scenes_dropped,
            "quarantined": len(quarantined),
            "buckets": dg.MetadataValue.json(dict(Counter(c.bucket for c in result.clips))),
            "clip_table": table(rows, ["clip_id", "start", "seconds", "bucket"]),
            "quarantine": quarantine_table(quarantined),
        },
    )
