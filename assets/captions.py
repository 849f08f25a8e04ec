"""captions: the given caption of each clip, or the configured VLM's; the dataset's trigger word in front."""

from collections import Counter

import dagster as dg

from assets.conditions import on_input_data_change
from assets.metadata import quarantine_table, table
from assets.partitions import datasets_partitions
from ltx_pipelines import captioning
from ltx_pipelines.config import with_overrides
from ltx_pipelines.frames import FrameClip
from ltx_pipelines.hashing import cache_key
from resources import CaptionerResource, ComputeResource, StorageResource


class CaptionsConfig(dg.Config):
    """Overrides of the recipe's captioning settings (unset = recipe value)."""

    prompt: str | None = None
    trigger_word: str | None = None


@dg.asset(
    partitions_def=datasets_partitions,
    automation_condition=on_input_data_change(),
    code_version=captioning.CODE_VERSION,
    group_name="dataset",
    io_manager_key="manifest_io",
    kinds={"transformers"},
)
def captions(
    context: dg.AssetExecutionContext,
    config: CaptionsConfig,
    storage: StorageResource,
    captioner: CaptionerResource,
    compute: ComputeResource,
    video_clips: dict,
    video_frames: dict,
) -> dg.Output[dict]:
    """One caption per clip with frames: the given one, else the captioner's (a VLM on sampled frames, batched,
    cached by content). Clips left without a caption are quarantined. The quarantine list here is the dataset's
    whole list (every data stage)."""
    home = storage.get_home()
    spec = storage.recipe(context.partition_key).dataset
    trigger_word = config.trigger_word or spec.trigger_word
    captioning_spec = with_overrides(spec.captioning, {"prompt": config.prompt})
    vlm = captioner.captioner(captioning_spec, home, compute.torch_device())
    given = {c["clip_id"]: c["caption"] for c in video_clips["clips"]}
    clips = [FrameClip(**c) for c in video_frames["clips"]]
    result = captioning.build_captions(clips, given, trigger_word, vlm, home.cache("captions"))
    if vlm is not None:
        vlm.close()
    for entry in result.quarantined:
        context.log.warning(f"quarantined {entry.path}: {entry.reason}")
    context.log.info(f"captions: {result.given} given, {result.generated} generated, {result.reused} reused")
    records = [c.to_dict() for c in result.captions]
    quarantined = video_frames["quarantined"] + [q.to_dict() for q in result.quarantined]
    version = cache_key([(c.clip_id, c.key) for c in result.captions])
    by_clip = {c.clip_id: c for c in clips}
    rows = [
        {
            "clip_id": r["clip_id"],
            "source": by_clip[r["clip_id"]].source,
            "bucket": by_clip[r["clip_id"]].bucket,
            "frames": by_clip[r["clip_id"]].frames,
            "caption": r["text"],
            "caption_source": r["source"],
        }
        for r in records
    ]
    files = len({c.source for c in clips}) + len({q["path"] for q in quarantined})
    return dg.Output(
        {
            "data_version": version,
            "captions": records,
            "quarantined": quarantined,
            "files": files,
            "max_quarantined_fraction": spec.max_quarantined_fraction,
        },
        data_version=dg.DataVersion(version),
        metadata={
            "captioned": len(records),
            "given": result.given,
            "generated": result.generated,
            "reused": result.reused,
            "captioner": (vlm.model.model_id if vlm else "none"),
            "trigger_word": trigger_word or "",
            "buckets": dg.MetadataValue.json(dict(Counter(r["bucket"] for r in rows))),
            "clip_table": table(rows, ["clip_id", "source", "bucket", "frames", "caption", "caption_source"]),
            "quarantined": len(quarantined),
            "quarantine": quarantine_table(quarantined),
        },
    )
