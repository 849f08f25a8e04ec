"""The one error type for bad media: it names the file and the reason, and becomes a quarantine entry."""

from __future__ import annotations

from pathlib import Path


class MediaError(Exception):
    """A clip that cannot be used, with the file and a human-readable reason."""

    def __init__(self, path: str | Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason
