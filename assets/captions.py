"""captions: the given caption of each clip, with the dataset's trigger word in front."""

import dagster as dg

from assets.metadata import quarantine_table, table
from assets.partitions import datasets_partitions
from ltx_pipelines import captioning
from ltx_pipelines.dataset import SourceClip
from ltx_pipelines.hashing import cache_key
from resources import StorageResource


@dg.asset(
    partitions_def=datasets_partitions,
    code_version=captioning.CODE_VERSION,
    group_name="dataset",
    io_manager_key="manifest_io",
)
def captions(
    context: dg.AssetExecutionContext, storage: StorageResource, raw_videos: dict, video_frames: dict
) -> dg.Output[dict]:
    """One caption per clip that has frames; clips without a caption are quarantined with the reason."""
    spec = storage.recipe(context.partition_key).dataset
    framed = {c["clip_id"] for c in video_frames["clips"]}
    clips = [SourceClip.from_dict(c) for c in raw_videos["clips"] if c["clip_id"] in framed]
    result = captioning.build_captions(clips, spec.trigger_word)
    for entry in result.quarantined:
        context.log.warning(f"quarantined {entry.path}: {entry.reason}")
    records = [c.to_dict() for c in result.captions]
    version = cache_key([(c.clip_id, c.key) for c in result.captions])
    return dg.Output(
        {
            "data_version": version,
            "captions": records,
            "quarantined": [q.to_dict() for q in result.quarantined],
        },
        data_version=dg.DataVersion(version),
        metadata={
            "captioned": len(records),
            "trigger_word": spec.trigger_word or "",
            "captions": table(records, ["clip_id", "source", "text"]),
            "quarantine": quarantine_table([q.to_dict() for q in result.quarantined]),
        },
    )
