"""Dataset manifests in the official LTX trainers' format, and the dataset-root path check.

One CSV, JSON (a list of objects) or JSONL file with a ``caption`` and a ``media_path`` column (the LTX-2 trainer
also says ``video``), optionally ``reference_path`` / ``reference_video`` for IC-LoRA pairs; paths relative to the
manifest file.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path

MANIFEST_SUFFIXES = (".csv", ".json", ".jsonl")
MEDIA_COLUMNS = ("media_path", "video")
REFERENCE_COLUMNS = ("reference_path", "reference_video")
MAX_MANIFEST_BYTES = 256 << 20


class ManifestError(ValueError):
    """A manifest that cannot be read as a whole (the reason is a stable, human-readable string)."""

    def __init__(self, path: Path, reason: str, detail: str = ""):
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))
        self.path = path
        self.reason = reason
        self.detail = detail


OUTSIDE_ROOT = "unsafe path: outside the dataset root"
INVALID_PATH = "unsafe path: cannot be resolved"


class UnsafePathError(ValueError):
    """A path that leads outside the dataset root (``..``, an absolute path elsewhere, a symlink escape), or one
    that cannot be resolved (a NUL byte, a lone surrogate, a symlink loop); ``reason`` is the quarantine reason."""

    def __init__(self, path: str, reason: str = OUTSIDE_ROOT, detail: str = ""):
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))
        self.path = path
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ManifestRow:
    """One row: where it is in the file (1-based), the media path as written, its caption and reference."""

    row: int
    media_path: str | None
    caption: str | None
    reference_path: str | None


def find_manifest(root: Path, name: str | None = None) -> Path | None:
    """The manifest to use: ``name`` (relative to ``root``) when given, else the one file at the top of ``root``
    with a ``caption`` and a ``media_path``/``video`` column; None when the folder has none (a plain media folder)."""
    if name is not None:
        return resolve_inside(root, name)
    found = [p for p in sorted(root.iterdir()) if p.suffix.lower() in MANIFEST_SUFFIXES and _looks_like_manifest(p)]
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise ManifestError(root, f"several manifests ({names}): name one with dataset.manifest in ltx.yaml")
    return resolve_inside(root, found[0].name) if found else None  # a symlink to a manifest elsewhere: unsafe


def read_manifest(path: Path) -> list[ManifestRow]:
    """The rows of a CSV/JSON/JSONL manifest; :class:`ManifestError` if the file is not one."""
    records = _records(path)
    if records and not any(column in records[0] for column in MEDIA_COLUMNS):
        raise ManifestError(path, "manifest has no media_path column")
    rows = []
    for index, record in enumerate(records, start=1):
        if not isinstance(record, dict):
            raise ManifestError(path, f"manifest row {index} is not an object")
        rows.append(
            ManifestRow(
                index,
                _first_text(record, MEDIA_COLUMNS),
                _first_text(record, ("caption",)),
                _first_text(record, REFERENCE_COLUMNS),
            )
        )
    return rows


def resolve_inside(root: Path, value: str | Path, base: Path | None = None) -> Path:
    """``value`` (relative to ``base``, default ``root``) as an absolute path, symlinks followed; raises
    :class:`UnsafePathError` unless it stays inside ``root``."""
    root = root.resolve()
    candidate = Path(value)
    if not candidate.is_absolute():
        candidate = (base or root) / candidate
    try:
        resolved = candidate.resolve()
    except (ValueError, OSError, RuntimeError) as error:  # NUL byte, unencodable name, symlink loop (RuntimeError)
        raise UnsafePathError(str(value), INVALID_PATH, str(error)) from error
    if not resolved.is_relative_to(root):
        raise UnsafePathError(str(value), OUTSIDE_ROOT, str(root))
    return resolved


def _records(path: Path) -> list:
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise ManifestError(path, f"manifest too large ({size} bytes)")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as error:
        raise ManifestError(path, "manifest is not UTF-8 text", str(error)) from error
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return list(csv.DictReader(io.StringIO(text)))
        if suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except (json.JSONDecodeError, csv.Error) as error:
        raise ManifestError(path, f"manifest is not valid {suffix[1:].upper()}", str(error)) from error
    if not isinstance(data, list):
        raise ManifestError(path, "JSON manifest must be a list of objects")
    return data


def _looks_like_manifest(path: Path) -> bool:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            head = handle.read(64 * 1024)
    except (OSError, UnicodeDecodeError):
        return False
    if path.suffix.lower() == ".csv":
        header = {column.strip() for column in next(csv.reader(io.StringIO(head)), [])}
        return "caption" in header and bool(header & set(MEDIA_COLUMNS))
    return '"caption"' in head and any(f'"{column}"' in head for column in MEDIA_COLUMNS)


def _first_text(record: dict, columns: tuple[str, ...]) -> str | None:
    for column in columns:
        value = record.get(column)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None
