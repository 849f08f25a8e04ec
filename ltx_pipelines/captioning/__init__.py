"""Captions per clip: the given caption when there is one, else the configured VLM's, with the trigger word.

Generated captions are cached by content (``cache/captions/<key>.json``, key = frames key + captioner identity +
code version), so adding a clip captions that clip only and the VLM is loaded only when something is missing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ltx_pipelines.atomic import write_json
from ltx_pipelines.dataset import Quarantined, normalise_caption
from ltx_pipelines.frames import FrameClip
from ltx_pipelines.hashing import cache_key, text_sha256

STAGE = "captions"
CODE_VERSION = "captions-2"
NO_CAPTION = "no caption: add a same-name .txt file (or a manifest caption) or configure dataset.captioning.model"
EMPTY_CAPTION = "captioner returned an empty caption"


@dataclass(frozen=True)
class CaptionRecord:
    """A clip's final training caption, where it came from (``given`` or ``generated``) and the hash that keys
    its text embedding."""

    clip_id: str
    text: str
    source: str
    key: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CaptionsResult:
    """Captions for the clips; clips left without one are quarantined with the reason."""

    captions: list[CaptionRecord] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)
    given: int = 0
    generated: int = 0
    reused: int = 0


class Captioner(Protocol):
    """Anything that captions clips from sampled frames; ``identity`` keys the cache (model + settings)."""

    identity: str
    frames_per_clip: int
    batch_size: int

    def caption(self, clips: Sequence[Sequence[np.ndarray]]) -> list[str]: ...


def with_trigger(text: str, trigger_word: str | None) -> str:
    """``text`` with ``trigger_word`` in front (once; not repeated if already there)."""
    if not trigger_word or text.startswith(f"{trigger_word} ") or text == trigger_word:
        return text
    return f"{trigger_word} {text}"


def sample_frames(frames: np.ndarray, count: int) -> list[np.ndarray]:
    """``count`` frames spread evenly over the clip (all of them when it has fewer)."""
    picks = np.unique(np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int))
    return [frames[i] for i in picks]


def build_captions(
    clips: Sequence[FrameClip],
    given: Mapping[str, str | None],
    trigger_word: str | None = None,
    captioner: Captioner | None = None,
    cache_dir: Path | None = None,
    on_batch: Callable[[int, int], None] | None = None,
) -> CaptionsResult:
    """Keep each clip's given caption; caption the rest with ``captioner`` (cached); prefix the trigger word.

    Without a captioner, clips with no given caption are quarantined.
    """
    result = CaptionsResult()
    texts: dict[str, tuple[str, str]] = {}
    pending: list[tuple[FrameClip, Path | None]] = []
    for clip in clips:
        text = normalise_caption(given.get(clip.clip_id))
        if text:
            texts[clip.clip_id] = (text, "given")
            result.given += 1
            continue
        if captioner is None:
            continue
        cached = cache_dir / f"{cache_key(clip.key, captioner.identity, CODE_VERSION)}.json" if cache_dir else None
        if cached is not None and cached.exists():
            texts[clip.clip_id] = (json.loads(cached.read_text())["text"], "generated")
            result.reused += 1
        else:
            pending.append((clip, cached))
    batch_size = captioner.batch_size if captioner else 1
    batches = [pending[i : i + batch_size] for i in range(0, len(pending), batch_size)]
    for number, batch in enumerate(batches, start=1):
        samples = [sample_frames(clip.load(), captioner.frames_per_clip) for clip, _ in batch]
        for (clip, cached), raw in zip(batch, captioner.caption(samples), strict=True):
            text = normalise_caption(raw) or ""
            if cached is not None and text:
                write_json(cached, {"clip_id": clip.clip_id, "text": text, "captioner": captioner.identity})
            texts[clip.clip_id] = (text, "generated")
            result.generated += 1
        if on_batch:
            on_batch(number, len(batches))
    for clip in clips:
        if clip.clip_id not in texts:
            result.quarantined.append(Quarantined(clip.clip_id, NO_CAPTION, STAGE))
            continue
        raw, source = texts[clip.clip_id]
        if not raw:
            result.quarantined.append(Quarantined(clip.clip_id, EMPTY_CAPTION, STAGE))
            continue
        text = with_trigger(raw, trigger_word)
        result.captions.append(CaptionRecord(clip.clip_id, text, source, text_sha256(text)[:24]))
    return result
