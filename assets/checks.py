"""Asset checks. Blocking ones guard the GPU: a failed ERROR check stops the run's downstream steps, and the
automation conditions (assets/automation.py) wait until the upstream blocking checks pass."""

import dagster as dg

from assets.captions import captions
from assets.evaluation import adapter_evaluation
from assets.latents import latents
from assets.metadata import quarantine_table
from assets.partitions import datasets_partitions
from assets.training import lora_adapter
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.models.family import family_for
from ltx_pipelines.quality import latent_problems, loss_health, missing_captions


@dg.asset_check(
    partitions_def=datasets_partitions,
    asset=captions,
    description="Files refused by any data stage, with the reason; fails (blocking) above the recipe's "
    "dataset.max_quarantined_fraction.",
    blocking=True,
)
def quarantine_check(captions: dict) -> dg.AssetCheckResult:
    """Passes while the share of quarantined files stays at or under ``dataset.max_quarantined_fraction``."""
    entries = captions["quarantined"]
    files = max(captions.get("files", 0), 1)
    fraction = len({q["path"] for q in entries}) / files
    limit = captions.get("max_quarantined_fraction", 0.5)
    return dg.AssetCheckResult(
        passed=fraction <= limit,
        severity=dg.AssetCheckSeverity.ERROR,
        description=f"{len(entries)} quarantined ({fraction:.0%} of {files} files; limit {limit:.0%})",
        metadata={
            "quarantined": len(entries),
            "fraction": fraction,
            "limit": limit,
            "quarantine": quarantine_table(entries),
            "reasons": dg.MetadataValue.json(_reason_counts(entries)),
        },
    )


@dg.asset_check(
    partitions_def=datasets_partitions,
    asset=captions,
    additional_ins={"video_frames": dg.AssetIn("video_frames")},
    description="Every clip going on to training has a non-empty caption.",
    blocking=True,
)
def captions_complete_check(captions: dict, video_frames: dict) -> dg.AssetCheckResult:
    """Fails when a clip that was not quarantined reaches the latents stage without a caption."""
    dropped = {q["path"] for q in captions["quarantined"] if q.get("stage") == "captions"}  # clip ids
    clips = [c["clip_id"] for c in video_frames["clips"] if c["clip_id"] not in dropped]
    missing = missing_captions(clips, {c["clip_id"]: c["text"] for c in captions["captions"]})
    return dg.AssetCheckResult(
        passed=not missing,
        description=f"{len(clips) - len(missing)}/{len(clips)} clips captioned"
        + (f"; missing: {', '.join(missing[:10])}" if missing else ""),
        metadata={"clips": len(clips), "missing": len(missing), "dropped_without_caption": len(dropped)},
    )


@dg.asset_check(
    partitions_def=datasets_partitions,
    asset=latents,
    description="Every cached latent and text embedding is finite and has the shape its bucket implies.",
    blocking=True,
)
def latents_check(latents: dict) -> dg.AssetCheckResult:
    """Reads every sample of the partition back from the cache (what training will read)."""
    records = [LatentRecord.from_dict(s) for s in latents["samples"]]
    model = latents["model"]
    problems = latent_problems(records, family_for(model["pipeline_class"]).geometry(model["path"]))
    return dg.AssetCheckResult(
        passed=bool(records) and not problems,
        description=f"{len(records)} samples, {len(problems)} problem(s)" + (f": {problems[0]}" if problems else ""),
        metadata={"samples": len(records), "problems": dg.MetadataValue.json(problems[:50])},
    )


@dg.asset_check(
    partitions_def=datasets_partitions,
    asset=lora_adapter,
    description="The training loss is finite at every step (ERROR, blocking) and its last quarter is below "
    "its first (WARN).",
    blocking=True,
)
def training_loss_check(lora_adapter: dict) -> dg.AssetCheckResult:
    """Blocks evaluation and registration of an adapter whose loss went NaN; warns when it did not decrease."""
    health = loss_health([step["loss"] for step in lora_adapter["result"]["history"]])
    return dg.AssetCheckResult(
        passed=health.decreasing,
        severity=dg.AssetCheckSeverity.ERROR if not health.finite else dg.AssetCheckSeverity.WARN,
        description=f"loss {health.first:.4f} → {health.last:.4f} (mean of first/last quarter)"
        + ("" if health.finite else "; NaN or infinite loss"),
        metadata={"first_quarter": health.first, "last_quarter": health.last, "finite": health.finite},
    )


@dg.asset_check(
    partitions_def=datasets_partitions,
    asset=adapter_evaluation,
    description="The adapter does not regress: held-out loss at or below the base's and the champion's.",
    blocking=False,
)
def evaluation_regression_check(adapter_evaluation: dict) -> dg.AssetCheckResult:
    """Warns (the registration's promotion gate decides what becomes champion) when the adapter is worse."""
    heldout = adapter_evaluation["heldout"]
    references = {"base": heldout["base"]}
    if heldout.get("champion") is not None:
        references["champion"] = heldout["champion"]
    worse = [name for name, loss in references.items() if heldout["adapter"] > loss]
    return dg.AssetCheckResult(
        passed=not worse,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"held-out loss {heldout['adapter']:.4f} vs "
        + ", ".join(f"{name} {loss:.4f}" for name, loss in references.items())
        + (f"; worse than {', '.join(worse)}" if worse else ""),
        metadata={"adapter_loss": heldout["adapter"], **{f"{k}_loss": v for k, v in references.items()}},
    )


ALL_CHECKS = [
    quarantine_check,
    captions_complete_check,
    latents_check,
    training_loss_check,
    evaluation_regression_check,
]


def _reason_counts(entries: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["reason"]] = counts.get(entry["reason"], 0) + 1
    return counts
