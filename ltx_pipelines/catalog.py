"""The dataset catalog: which folder each dataset partition key stands for (``<home>/datasets.json``)."""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

from ltx_pipelines.atomic import write_json
from ltx_pipelines.hashing import text_sha256
from ltx_pipelines.home import Home
from ltx_pipelines.locks import file_lock

_KEY_CHARS = re.compile(r"[^a-z0-9_-]+")


class UnknownDatasetError(KeyError):
    """A partition key that the catalog does not know."""

    def __str__(self) -> str:
        return f"unknown dataset {self.args[0]!r}: register it with `ltx-pipelines materialize --dataset DIR`"


def dataset_key(folder: Path) -> str:
    """The partition key a folder gets by default: its name, lower-cased, safe characters only."""
    return _KEY_CHARS.sub("-", folder.name.lower()).strip("-") or "dataset"


def register_dataset(home: Home, folder: str | Path, key: str | None = None) -> str:
    """Record ``folder`` in the catalog and return its partition key (stable for the same folder)."""
    folder = Path(folder).expanduser().resolve()
    if not folder.is_dir():
        raise NotADirectoryError(f"dataset folder {folder} does not exist or is not a folder")
    with _locked(home) as entries:
        for existing, path in entries.items():
            if Path(path) == folder and (key is None or key == existing):
                return existing
        wanted = key or dataset_key(folder)
        if wanted in entries and Path(entries[wanted]) != folder:
            if key is not None:
                raise ValueError(f"dataset key {key!r} already names {entries[key]}")
            wanted = f"{wanted}-{text_sha256(str(folder))[:6]}"
        entries[wanted] = str(folder)
        write_json(home.datasets_catalog, entries)
        return wanted


def dataset_folder(home: Home, key: str) -> Path:
    """The folder registered under ``key``."""
    entries = read_catalog(home)
    if key not in entries:
        raise UnknownDatasetError(key)
    return Path(entries[key])


def read_catalog(home: Home) -> dict[str, str]:
    """All registered datasets: partition key -> absolute folder."""
    try:
        return json.loads(home.datasets_catalog.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}


@contextlib.contextmanager
def _locked(home: Home) -> Iterator[dict[str, str]]:
    with file_lock(home.root / ".datasets.lock"):
        yield read_catalog(home)
