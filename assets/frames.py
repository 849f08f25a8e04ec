"""video_frames: decode each clip window into its bucket (resize + center crop), cached by content."""

from collections import Counter

import dagster as dg

from assets.conditions import on_input_data_change
from assets.metadata import image, quarantine_table, table
from assets.partitions import datasets_partitions
from assets.retries import retry_transient
from ltx_pipelines import frames as frames_core
from ltx_pipelines.clips import ClipWindow
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.media.preview import contact_sheet
from resources import StorageResource


@dg.asset(
    partitions_def=datasets_partitions,
    automation_condition=on_input_data_change(),
    code_version=frames_core.CODE_VERSION,
    group_name="dataset",
    io_manager_key="manifest_io",
    kinds={"pyav"},
)
@retry_transient
def video_frames(context: dg.AssetExecutionContext, storage: StorageResource, video_clips: dict) -> dg.Output[dict]:
    """Frames of every clip in its bucket (W×H×F) under ``cache/frames/<key>``: seek to the window, frames picked
    by timestamp at the dataset fps, only the frames the bucket needs decoded. A window that fails to decode is
    quarantined. Only windows whose content, bucket or fps changed are decoded again."""
    home = storage.get_home()
    spec = storage.recipe(context.partition_key).dataset
    windows = [ClipWindow.from_dict(c) for c in video_clips["clips"]]
    result = frames_core.extract_frames(windows, spec, home.cache("frames"))
    for entry in result.quarantined:
        context.log.warning(f"quarantined {entry.path}: {entry.reason}")
    context.log.info(f"{result.decoded} clip(s) decoded, {result.reused} reused from the cache")
    quarantined = video_clips["quarantined"] + [q.to_dict() for q in result.quarantined]
    version = cache_key([c.key for c in result.clips], [(q["path"], q["reason"]) for q in quarantined])
    sheet = contact_sheet([c.load() for c in result.clips[:12]])
    return dg.Output(
        {"data_version": version, "clips": [c.to_dict() for c in result.clips], "quarantined": quarantined},
        data_version=dg.DataVersion(version),
        metadata={
            "clips": len(result.clips),
            "decoded": result.decoded,
            "reused": result.reused,
            "quarantined": len(quarantined),
            "buckets": dg.MetadataValue.json(dict(Counter(c.bucket for c in result.clips))),
            "contact_sheet": image(sheet, "contact sheet"),
            "clip_table": table([c.to_dict() for c in result.clips], ["clip_id", "source", "bucket", "frames", "key"]),
            "quarantine": quarantine_table(quarantined),
        },
    )
