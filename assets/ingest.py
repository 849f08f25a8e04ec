"""raw_videos: scan the dataset folder, probe each file with PyAV, quarantine what cannot be used."""

import dagster as dg

from assets.metadata import quarantine_table, table
from assets.partitions import datasets_partitions
from ltx_pipelines.dataset import scan_folder
from resources import StorageResource

CODE_VERSION = "raw_videos-1"


@dg.asset(
    partitions_def=datasets_partitions,
    code_version=CODE_VERSION,
    group_name="dataset",
    io_manager_key="manifest_io",
    kinds={"pyav"},
)
def raw_videos(context: dg.AssetExecutionContext, storage: StorageResource) -> dg.Output[dict]:
    """Every media file in the dataset folder with its content hash, caption and probe facts; files that
    are not readable video are quarantined with the reason. Data version: the content of the folder."""
    folder = storage.dataset_folder(context.partition_key)
    scan = scan_folder(folder)
    for entry in scan.quarantined:
        context.log.warning(f"quarantined {entry.path}: {entry.reason}")
    manifest = {
        "dataset": context.partition_key,
        "folder": str(folder),
        "data_version": scan.content_key,
        "clips": [c.to_dict() for c in scan.clips],
        "quarantined": [q.to_dict() for q in scan.quarantined],
    }
    rows = [
        {
            "clip": c.clip_id,
            "size": f"{c.info.width}x{c.info.height}",
            "frames": c.info.frame_count,
            "fps": f"{c.info.fps:g}",
            "codec": c.info.codec,
            "caption": c.caption,
        }
        for c in scan.clips
    ]
    return dg.Output(
        manifest,
        data_version=dg.DataVersion(scan.content_key),
        metadata={
            "folder": dg.MetadataValue.path(str(folder)),
            "clips": len(scan.clips),
            "quarantined": len(scan.quarantined),
            "quarantine": quarantine_table(manifest["quarantined"]),
            "clip_table": table(rows, ["clip", "size", "frames", "fps", "codec", "caption"]),
        },
    )
