"""Asset checks: the dataset's quarantine list, and a warning when too much of it was refused."""

import dagster as dg

from assets.captions import captions
from assets.metadata import quarantine_table


@dg.asset_check(
    asset=captions,
    description="Files refused by any data stage, with the reason; warns above the "
    "recipe's dataset.max_quarantined_fraction.",
    blocking=False,
)
def quarantine_check(captions: dict) -> dg.AssetCheckResult:
    """Passes while the share of quarantined files stays at or under ``dataset.max_quarantined_fraction``."""
    entries = captions["quarantined"]
    files = max(captions.get("files", 0), 1)
    fraction = len({q["path"] for q in entries}) / files
    limit = captions.get("max_quarantined_fraction", 0.5)
    return dg.AssetCheckResult(
        passed=fraction <= limit,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(entries)} quarantined ({fraction:.0%} of {files} files; limit {limit:.0%})",
        metadata={
            "quarantined": len(entries),
            "fraction": fraction,
            "limit": limit,
            "quarantine": quarantine_table(entries),
            "reasons": dg.MetadataValue.json(_reason_counts(entries)),
        },
    )


def _reason_counts(entries: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for entry in entries:
        counts[entry["reason"]] = counts.get(entry["reason"], 0) + 1
    return counts
