"""video_frames: decode each clip into its bucket (resize + center crop), cached by content."""

from collections import Counter

import dagster as dg

from assets.metadata import image, quarantine_table, table
from assets.partitions import datasets_partitions
from ltx_pipelines import frames as frames_core
from ltx_pipelines.dataset import SourceClip
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.media.preview import contact_sheet
from resources import StorageResource


@dg.asset(
    partitions_def=datasets_partitions,
    code_version=frames_core.CODE_VERSION,
    group_name="dataset",
    io_manager_key="manifest_io",
    kinds={"pyav"},
)
def video_frames(context: dg.AssetExecutionContext, storage: StorageResource, raw_videos: dict) -> dg.Output[dict]:
    """Frames of every clip in its bucket (W×H×F) under ``cache/frames/<key>``; a clip that fits no bucket or
    fails to decode is quarantined. Only clips whose content or bucket changed are decoded again."""
    home = storage.get_home()
    spec = storage.recipe(context.partition_key).dataset
    clips = [SourceClip.from_dict(c) for c in raw_videos["clips"]]
    result = frames_core.extract_frames(clips, spec, home.cache("frames"))
    for entry in result.quarantined:
        context.log.warning(f"quarantined {entry.path}: {entry.reason}")
    context.log.info(f"{result.decoded} clip(s) decoded, {result.reused} reused from the cache")
    quarantined = raw_videos["quarantined"] + [q.to_dict() for q in result.quarantined]
    version = cache_key([c.key for c in result.clips], [(q["path"], q["reason"]) for q in quarantined])
    sheet = contact_sheet([c.load() for c in result.clips[:12]])
    buckets = Counter(c.bucket for c in result.clips)
    return dg.Output(
        {
            "data_version": version,
            "clips": [c.to_dict() for c in result.clips],
            "quarantined": quarantined,
        },
        data_version=dg.DataVersion(version),
        metadata={
            "clips": len(result.clips),
            "decoded": result.decoded,
            "reused": result.reused,
            "quarantined": len(quarantined),
            "buckets": dg.MetadataValue.json(dict(buckets)),
            "contact_sheet": image(sheet, "contact sheet"),
            "clip_table": table([c.to_dict() for c in result.clips], ["clip_id", "bucket", "key"]),
            "quarantine": quarantine_table(quarantined),
        },
    )
