"""Scan a dataset: a folder of media with same-name ``.txt`` captions, or an official-trainer manifest.

Every file is probed (PyAV for video, Pillow for images) and hashed; bad files, unsafe manifest rows and repeated
content are quarantined with a stable reason. Probe results are cached by (path, size, mtime), so a rescan after
adding one file probes that file only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from stat import S_ISREG

from ltx_pipelines.atomic import write_json
from ltx_pipelines.config import DatasetSpec
from ltx_pipelines.hashing import cache_key, file_sha256
from ltx_pipelines.manifest import ManifestError, UnsafePathError, find_manifest, read_manifest, resolve_inside
from ltx_pipelines.media.errors import MediaError
from ltx_pipelines.media.probe import IMAGE_SUFFIXES, MediaInfo, probe_media

STAGE = "raw_videos"
PROBE_VERSION = "probe-2"
# Files that describe the dataset rather than being media in it.
SIDECAR_SUFFIXES = frozenset({".txt", ".yaml", ".yml", ".json", ".jsonl", ".csv", ".md"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"})
MAX_CAPTION_BYTES = 64 * 1024


@dataclass(frozen=True)
class SourceClip:
    """A usable media file: its path relative to the dataset root, absolute path, content hash, caption, probe
    facts, and for IC-LoRA pairs the reference media it is paired with."""

    clip_id: str
    path: str
    sha256: str
    size: int
    caption: str | None
    info: MediaInfo
    reference: SourceClip | None = None

    def to_dict(self) -> dict:
        data = {**asdict(self), "info": self.info.to_dict()}
        data["reference"] = self.reference.to_dict() if self.reference else None
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SourceClip:
        reference = data.get("reference")
        return cls(
            **{
                **data,
                "info": MediaInfo.from_dict(data["info"]),
                "reference": cls.from_dict(reference) if reference else None,
            }
        )


@dataclass(frozen=True)
class Quarantined:
    """A file left out of training: the stage that refused it, a stable reason, and optional detail."""

    path: str
    reason: str
    stage: str
    detail: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Quarantined:
        return cls(data["path"], data["reason"], data["stage"], data.get("detail", ""))


@dataclass
class ScanResult:
    """What a dataset holds: usable clips and quarantined files, in a stable order."""

    clips: list[SourceClip] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    manifest: str | None = None
    probed: int = 0

    @property
    def content_key(self) -> str:
        """Changes exactly when a clip's bytes, caption or reference, or the quarantine list, changes."""
        return cache_key(
            [(c.clip_id, c.sha256, c.caption, c.reference.sha256 if c.reference else None) for c in self.clips],
            [(q.path, q.reason) for q in self.quarantined],
        )


def scan_dataset(root: str | Path, spec: DatasetSpec | None = None, cache_dir: Path | None = None) -> ScanResult:
    """Probe every media file of the dataset at ``root``; never raises for one bad file or row.

    A manifest (``spec.manifest``, or the one detected at the top of ``root``) lists the media; without one,
    every media file under ``root`` is used with its same-name ``.txt`` caption.
    """
    root = Path(root).resolve()
    spec = spec or DatasetSpec()
    result = ScanResult()
    prober = _Prober(cache_dir, spec.max_pixels)
    try:
        manifest = find_manifest(root, spec.manifest)
    except UnsafePathError as error:
        result.quarantined.append(Quarantined(spec.manifest or error.path, error.reason, STAGE))
        return result
    except ManifestError as error:
        result.quarantined.append(Quarantined(_relative(root, error.path), error.reason, STAGE, error.detail))
        return result
    if manifest is None:
        entries = _folder_entries(root)
    else:
        result.manifest = _relative(root, manifest)
        try:
            entries = list(_manifest_entries(root, manifest))
        except (ManifestError, OSError) as error:
            reason = getattr(error, "reason", "manifest cannot be read")
            result.quarantined.append(Quarantined(result.manifest, reason, STAGE, getattr(error, "detail", "")))
            return result
    first_of: dict[str, str] = {}
    for entry in entries:
        if isinstance(entry, Quarantined):
            result.quarantined.append(entry)
            continue
        clip_id, path, caption_source, reference = entry
        try:
            clip = prober.probe(path)
            caption = caption_source() if callable(caption_source) else caption_source
        except MediaError as error:
            result.quarantined.append(Quarantined(clip_id, error.reason, STAGE, error.detail))
            continue
        try:
            ref = prober.probe(reference[1]) if reference else None
        except MediaError as error:
            result.quarantined.append(Quarantined(clip_id, f"reference: {error.reason}", STAGE, error.detail))
            continue
        if spec.deduplicate and clip.sha256 in first_of:
            result.quarantined.append(Quarantined(clip_id, f"duplicate of {first_of[clip.sha256]}", STAGE))
            continue
        first_of.setdefault(clip.sha256, clip_id)
        paired = SourceClip(reference[0], ref.path, ref.sha256, ref.size, None, ref.info) if ref else None
        result.clips.append(SourceClip(clip_id, clip.path, clip.sha256, clip.size, caption, clip.info, paired))
    result.probed = prober.probed
    return result


def scan_folder(root: str | Path, spec: DatasetSpec | None = None, cache_dir: Path | None = None) -> ScanResult:
    """Alias of :func:`scan_dataset` (the name the first version used)."""
    return scan_dataset(root, spec, cache_dir)


def read_caption(path: Path) -> str | None:
    """The caption text beside a clip (whitespace collapsed), or None when there is no caption file."""
    try:
        if not path.is_file():
            return None
    except OSError:  # a name too long to exist
        return None
    size = path.stat().st_size
    if size > MAX_CAPTION_BYTES:  # refused from its size: a huge file is never read into memory
        raise MediaError(path, f"caption file too large ({size} bytes > {MAX_CAPTION_BYTES})")
    try:
        data = path.read_bytes()
    except PermissionError as error:
        raise MediaError(path, "caption file unreadable: permission denied") from error
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MediaError(path, "caption file is not UTF-8 text", f"byte {error.start}") from error
    return normalise_caption(text)


def normalise_caption(text: str | None) -> str | None:
    """Whitespace collapsed to single spaces; None for empty text."""
    return " ".join((text or "").split()) or None


def manifest_caption(text: str | None) -> str | None:
    """A manifest row's caption, normalised; :class:`MediaError` (path "") when it is too large or not text."""
    if text is None:
        return None
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as error:  # a lone surrogate from a JSON "\ud800" escape
        raise MediaError("", "caption is not UTF-8 text", f"character {error.start}") from error
    if size > MAX_CAPTION_BYTES:
        raise MediaError("", f"caption too large ({size} bytes > {MAX_CAPTION_BYTES})")
    return normalise_caption(text)


REFERENCE_MARK = ".ref"

# An entry to probe: (clip id, absolute path, caption or a callable reading it, optional (ref id, ref path)).
_Entry = tuple[str, Path, object, tuple[str, Path] | None]


def _folder_entries(root: Path) -> Iterator[_Entry | Quarantined]:
    for path in _candidate_files(root):
        if path.stem.endswith(REFERENCE_MARK):  # NAME.ref.mp4 is the IC-LoRA reference of NAME.mp4
            continue
        rel = path.relative_to(root).as_posix()
        try:
            resolved = resolve_inside(root, path)
            reference = _reference_beside(root, path)
        except UnsafePathError as error:
            yield Quarantined(rel, error.reason, STAGE, error.detail)
            continue
        yield rel, resolved, (lambda p=path: read_caption(p.with_suffix(".txt"))), reference


def _reference_beside(root: Path, path: Path) -> tuple[str, Path] | None:
    """``NAME.ref.<ext>`` beside ``NAME.<ext>`` (any media extension), as (relative id, resolved path)."""
    for suffix in sorted(VIDEO_SUFFIXES | IMAGE_SUFFIXES):
        candidate = path.with_name(f"{path.stem}{REFERENCE_MARK}{suffix}")
        if candidate.exists():
            return candidate.relative_to(root).as_posix(), resolve_inside(root, candidate)
    return None


def _manifest_entries(root: Path, manifest: Path) -> Iterator[_Entry | Quarantined]:
    base = manifest.parent
    for row in read_manifest(manifest):
        if row.media_path is None:
            yield Quarantined(f"{_relative(root, manifest)}:{row.row}", "manifest row has no media_path", STAGE)
            continue
        try:
            path = resolve_inside(root, row.media_path, base)
        except UnsafePathError as error:
            yield Quarantined(row.media_path, error.reason, STAGE, error.detail)
            continue
        clip_id = _relative(root, path)
        reference = None
        if row.reference_path is not None:
            try:
                ref_path = resolve_inside(root, row.reference_path, base)
            except UnsafePathError as error:
                yield Quarantined(clip_id, f"reference: {error.reason}", STAGE, error.detail)
                continue
            reference = (_relative(root, ref_path), ref_path)
        try:
            caption = manifest_caption(row.caption)
        except MediaError as error:
            yield Quarantined(clip_id, error.reason, STAGE, error.detail)
            continue
        yield clip_id, path, caption, reference


def _candidate_files(root: Path) -> Iterable[Path]:
    for path in sorted(root.rglob("*")):
        rel_parts = path.relative_to(root).parts
        if any(part.startswith(".") for part in rel_parts):
            continue
        if path.is_dir() and path.suffix.lower() not in VIDEO_SUFFIXES | IMAGE_SUFFIXES:
            continue
        if path.suffix.lower() in SIDECAR_SUFFIXES:
            continue
        yield path


def _relative(root: Path, path: Path) -> str:
    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class _Probed:
    path: str
    sha256: str
    size: int
    info: MediaInfo


class _Prober:
    """Probe and hash files, reusing results cached under (path, size, mtime) when a cache folder is given."""

    def __init__(self, cache_dir: Path | None, max_pixels: int | None = None):
        self.cache_dir = cache_dir
        self.max_pixels = max_pixels
        self.probed = 0

    def probe(self, path: Path) -> _Probed:
        """Content hash and probe facts of ``path``, or :class:`MediaError` (failures are cached too)."""
        try:
            stat = path.stat()
        except (FileNotFoundError, NotADirectoryError) as error:
            raise MediaError(path, "file not found") from error
        except OSError as error:  # a name too long, a symlink loop
            raise MediaError(path, "unreadable: cannot open", error.strerror or str(error)) from error
        if not S_ISREG(stat.st_mode):
            raise MediaError(path, "not a regular file")
        cached = self._cache_file(path, stat.st_size, stat.st_mtime_ns)
        if cached is not None and cached.exists():
            data = json.loads(cached.read_text())
            if "error" in data:
                raise MediaError(path, data["error"], data.get("detail", ""))
            return _Probed(str(path), data["sha256"], data["size"], MediaInfo.from_dict(data["info"]))
        self.probed += 1
        try:
            info = probe_media(path, self.max_pixels)
        except MediaError as error:
            if cached is not None:
                write_json(cached, {"error": error.reason, "detail": error.detail})
            raise
        probed = _Probed(str(path), file_sha256(path), stat.st_size, info)
        if cached is not None:
            write_json(cached, {"sha256": probed.sha256, "size": probed.size, "info": info.to_dict()})
        return probed

    def _cache_file(self, path: Path, size: int, mtime_ns: int) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{cache_key(str(path), size, mtime_ns, self.max_pixels, PROBE_VERSION)}.json"
