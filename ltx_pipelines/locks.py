"""Exclusive locks, so two processes working on the same thing take turns instead of colliding."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".lock"


@contextlib.contextmanager
def file_lock(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on the file ``path`` (created, with its folder, if missing) until the block
    ends. A second process blocks until the first is done; the kernel drops the lock if the holder dies, even on
    ``kill -9``, so a crash never leaves a stale lock behind."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield path
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """:func:`file_lock` on ``folder/.lock``: the folder is one process's at a time."""
    with file_lock(Path(folder) / LOCK_FILE):
        yield Path(folder)
