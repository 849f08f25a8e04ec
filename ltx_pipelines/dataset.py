"""Scan a dataset folder: media files with same-name ``.txt`` captions, probed; bad files quarantined."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ltx_pipelines.hashing import cache_key, file_sha256
from ltx_pipelines.media.errors import MediaError
from ltx_pipelines.media.probe import MediaInfo, probe_video

# Files that describe the dataset rather than being media in it.
SIDECAR_SUFFIXES = frozenset({".txt", ".yaml", ".yml", ".json", ".jsonl", ".csv", ".md"})
MAX_CAPTION_BYTES = 64 * 1024


@dataclass(frozen=True)
class SourceClip:
    """A usable media file: its path relative to the dataset root, content hash, caption and probe facts."""

    clip_id: str
    path: str
    sha256: str
    size: int
    caption: str | None
    info: MediaInfo

    def to_dict(self) -> dict:
        return {**asdict(self), "info": self.info.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> SourceClip:
        return cls(**{**data, "info": MediaInfo(**data["info"])})


@dataclass(frozen=True)
class Quarantined:
    """A file left out of training, with the stage that refused it and why."""

    path: str
    reason: str
    stage: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ScanResult:
    """What a folder holds: usable clips and quarantined files, both sorted by path."""

    clips: list[SourceClip] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)

    @property
    def content_key(self) -> str:
        """Changes exactly when a clip's bytes or caption, or the quarantine list, changes."""
        return cache_key(
            [(c.clip_id, c.sha256, c.caption) for c in self.clips],
            [(q.path, q.reason) for q in self.quarantined],
        )


def scan_folder(root: str | Path) -> ScanResult:
    """Probe every media file under ``root`` (hidden files and sidecars skipped); never raises for one file."""
    root = Path(root).resolve()
    result = ScanResult()
    for path in _candidate_files(root):
        rel = path.relative_to(root).as_posix()
        try:
            info = probe_video(path)
            caption = read_caption(path.with_suffix(".txt"))
        except MediaError as error:
            result.quarantined.append(Quarantined(rel, error.reason, "raw_videos"))
            continue
        result.clips.append(SourceClip(rel, str(path), file_sha256(path), path.stat().st_size, caption, info))
    return result


def read_caption(path: Path) -> str | None:
    """The caption text beside a clip (whitespace collapsed), or None when there is no caption file."""
    if not path.is_file():
        return None
    data = path.read_bytes()
    if len(data) > MAX_CAPTION_BYTES:
        raise MediaError(path, f"caption file too large ({len(data)} bytes > {MAX_CAPTION_BYTES})")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MediaError(path, f"caption is not UTF-8 text (byte {error.start})") from error
    return " ".join(text.split()) or None


def _candidate_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        rel_parts = path.relative_to(root).parts
        if any(part.startswith(".") for part in rel_parts):
            continue
        if path.is_dir() and path.suffix.lower() not in {".mp4", ".mov", ".mkv", ".webm", ".avi"}:
            continue
        if path.suffix.lower() in SIDECAR_SUFFIXES:
            continue
        yield path
