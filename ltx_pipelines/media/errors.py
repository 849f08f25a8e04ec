"""The one error type for bad media: it names the file and the reason, and becomes a quarantine entry."""

from __future__ import annotations

from pathlib import Path


class MediaError(Exception):
    """A clip that cannot be used: the file, a stable human-readable reason, and optional detail (e.g. FFmpeg's
    message) that may vary between library versions."""

    def __init__(self, path: str | Path, reason: str, detail: str = ""):
        super().__init__(f"{path}: {reason}" + (f" ({detail})" if detail else ""))
        self.path = str(path)
        self.reason = reason
        self.detail = detail
