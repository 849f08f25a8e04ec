"""Dataset folders under a root: a cheap fingerprint per folder, and what changed since the last look.

The fingerprint hashes each file's relative path, size and modification time (no file is read), so a watcher can
poll a large root often; the content hash that versions the data is computed later, by the ingestion stage.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ltx_pipelines.hashing import text_sha256


@dataclass(frozen=True)
class FolderChanges:
    """Dataset folders that appeared, changed or disappeared between two looks (names, sorted)."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.added or self.changed or self.removed)


def folder_fingerprint(folder: str | Path) -> str:
    """A hash of every file's relative path, size and mtime under ``folder`` (hidden entries skipped)."""
    folder = Path(folder)
    entries: list[str] = []
    for directory, subdirectories, files in os.walk(folder):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(directory) / name
            try:
                stat = path.stat()
            except OSError:  # vanished or unreadable: the ingestion stage reports it; here it is just a change
                entries.append(f"{path.relative_to(folder)}\0missing")
                continue
            entries.append(f"{path.relative_to(folder)}\0{stat.st_size}\0{stat.st_mtime_ns}")
    return text_sha256("\n".join(entries))


def scan_dataset_root(root: str | Path) -> dict[str, str]:
    """Every non-hidden sub-folder of ``root`` with its fingerprint; an absent root has none."""
    root = Path(root)
    if not root.is_dir():
        return {}
    return {
        entry.name: folder_fingerprint(entry)
        for entry in sorted(root.iterdir())
        if entry.is_dir() and not entry.name.startswith(".")
    }


def compare_fingerprints(previous: dict[str, str], current: dict[str, str]) -> FolderChanges:
    """What differs between two :func:`scan_dataset_root` results."""
    return FolderChanges(
        added=sorted(set(current) - set(previous)),
        changed=sorted(name for name in set(current) & set(previous) if current[name] != previous[name]),
        removed=sorted(set(previous) - set(current)),
    )
