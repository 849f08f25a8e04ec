"""The quarantine asset check: it lists what was refused and warns above the recipe's limit."""

from __future__ import annotations

import dagster as dg

from assets.checks import quarantine_check


def _captions_manifest(quarantined: list[str], files: int, limit: float) -> dict:
    entries = [
        {"path": path, "reason": "not a media file", "stage": "raw_videos", "detail": ""} for path in quarantined
    ]
    return {"captions": [], "quarantined": entries, "files": files, "max_quarantined_fraction": limit}


def test_check_passes_under_the_limit_and_lists_the_files() -> None:
    result = quarantine_check(captions=_captions_manifest(["a.mp4"], files=4, limit=0.5))
    assert result.passed and result.severity == dg.AssetCheckSeverity.ERROR
    assert result.description == "1 quarantined (25% of 4 files; limit 50%)"
    assert [row.data["path"] for row in result.metadata["quarantine"].value.records] == ["a.mp4"]
    assert result.metadata["reasons"].value == {"not a media file": 1}


def test_check_warns_above_the_limit() -> None:
    result = quarantine_check(captions=_captions_manifest(["a.mp4", "b.mp4", "c.mp4"], files=4, limit=0.5))
    assert not result.passed
    assert result.description == "3 quarantined (75% of 4 files; limit 50%)"
