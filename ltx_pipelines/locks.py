"""Exclusive locks on folders, so two processes working on the same thing take turns instead of colliding."""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

LOCK_FILE = ".lock"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on ``folder/.lock`` (created, with the folder, if missing) until the block
    ends. A second process blocks until the first is done; the kernel drops the lock if the holder dies, even on
    ``kill -9``, so a crash never leaves a stale lock behind."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_FILE, "a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
