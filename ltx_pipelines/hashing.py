"""Content hashes and cache keys."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

_CHUNK = 1 << 20


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 hex digest of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    """SHA-256 hex digest of UTF-8 text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def stable_json(value: Any) -> str:
    """JSON with sorted keys and no whitespace: the canonical form hashed by :func:`cache_key`."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def cache_key(*parts: Any, length: int = 24) -> str:
    """A short content key: the hash of the JSON of ``parts`` (input keys, stage config, code version)."""
    return hashlib.sha256(stable_json(parts).encode("utf-8")).hexdigest()[:length]


def tree_fingerprint(root: str | os.PathLike[str], full_hash_limit: int = 64 << 20) -> str:
    """Fingerprint of a folder: relative paths plus content hashes (size + mtime for files over the limit)."""
    root = Path(root)
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = path.stat()
        rel = path.relative_to(root).as_posix()
        if stat.st_size <= full_hash_limit:
            entries.append((rel, file_sha256(path)))
        else:
            entries.append((rel, stat.st_size, stat.st_mtime_ns))
    return cache_key(entries, length=32)
