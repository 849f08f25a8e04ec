"""Captions per clip: the given caption, with the dataset's trigger word in front."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

from ltx_pipelines.dataset import Quarantined, SourceClip
from ltx_pipelines.hashing import text_sha256

CODE_VERSION = "captions-1"


@dataclass(frozen=True)
class CaptionRecord:
    """A clip's final training caption and the hash that keys its text embedding."""

    clip_id: str
    text: str
    source: str
    key: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class CaptionsResult:
    """Captions for the clips that have one; clips without any are quarantined with the reason."""

    captions: list[CaptionRecord] = field(default_factory=list)
    quarantined: list[Quarantined] = field(default_factory=list)


def with_trigger(text: str, trigger_word: str | None) -> str:
    """``text`` with ``trigger_word`` in front (once; not repeated if already there)."""
    if not trigger_word or text.startswith(f"{trigger_word} ") or text == trigger_word:
        return text
    return f"{trigger_word} {text}"


def build_captions(clips: Sequence[SourceClip], trigger_word: str | None = None) -> CaptionsResult:
    """Keep each clip's given caption, prefixed with the trigger word; quarantine clips without one."""
    result = CaptionsResult()
    for clip in clips:
        if not clip.caption:
            result.quarantined.append(
                Quarantined(clip.clip_id, "no caption: add a same-name .txt file beside the clip", "captions")
            )
            continue
        text = with_trigger(clip.caption, trigger_word)
        result.captions.append(CaptionRecord(clip.clip_id, text, "given", text_sha256(text)[:24]))
    return result
