"""raw_videos: scan the dataset (folder or manifest), probe each file, quarantine what cannot be used."""

import dagster as dg

from assets.metadata import quarantine_table, table
from assets.partitions import datasets_partitions
from assets.retries import retry_transient
from ltx_pipelines.dataset import scan_dataset
from resources import StorageResource

CODE_VERSION = "raw_videos-2"


@dg.asset(
    partitions_def=datasets_partitions,
    code_version=CODE_VERSION,
    group_name="dataset",
    io_manager_key="manifest_io",
    kinds={"pyav"},
)
@retry_transient
def raw_videos(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.Output[dict]:
    """Every media file of the dataset (its folder, or the official-trainer manifest in it) with content hash,
    caption and probe facts; unreadable, truncated, audio-only, non-media, duplicate and unsafe entries are
    quarantined with the reason. Data version: the content of the dataset."""
    folder = storage.dataset_folder(context.partition_key)
    spec = storage.recipe(context.partition_key).dataset
    scan = scan_dataset(folder, spec, storage.get_home().cache("probe"))
    for entry in scan.quarantined:
        context.log.warning(f"quarantined {entry.path}: {entry.reason}")
    context.log.info(f"{scan.probed} file(s) probed, {len(scan.clips) + len(scan.quarantined) - scan.probed} reused")
    manifest = {
        "dataset": context.partition_key,
        "folder": str(folder),
        "manifest": scan.manifest,
        "data_version": scan.content_key,
        "clips": [c.to_dict() for c in scan.clips],
        "quarantined": [q.to_dict() for q in scan.quarantined],
    }
    rows = [
        {
            "clip": c.clip_id,
            "kind": "image" if c.info.is_image else "video",
            "size": f"{c.info.width}x{c.info.height}",
            "frames": c.info.frame_count,
            "fps": f"{c.info.fps:g}",
            "codec": f"{c.info.codec} {c.info.pix_fmt}".strip(),
            "rotation": c.info.rotation,
            "audio": c.info.has_audio,
            "reference": c.reference.clip_id if c.reference else "",
            "caption": c.caption,
        }
        for c in scan.clips
    ]
    return dg.Output(
        manifest,
        data_version=dg.DataVersion(scan.content_key),
        metadata={
            "folder": dg.MetadataValue.path(str(folder)),
            "format": f"manifest {scan.manifest}" if scan.manifest else "folder",
            "clips": len(scan.clips),
            "probed": scan.probed,
            "quarantined": len(scan.quarantined),
            "quarantine": quarantine_table(manifest["quarantined"]),
            "clip_table": table(rows, list(rows[0]) if rows else ["clip"]),
        },
    )
