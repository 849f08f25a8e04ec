"""Deterministic train / held-out split by clip id: adding a clip never reshuffles the others."""

from __future__ import annotations

from collections.abc import Iterable

from ltx_pipelines.hashing import text_sha256


def _unit(clip_id: str) -> float:
    return int(text_sha256(clip_id)[:12], 16) / float(1 << 48)


def holdout_ids(clip_ids: Iterable[str], fraction: float) -> set[str]:
    """Clip ids held out of training: those whose hash falls under ``fraction``.

    With a positive fraction and two or more clips, at least one clip is held out (the lowest hash).
    """
    ids = sorted(set(clip_ids))
    if fraction <= 0 or len(ids) < 2:
        return set()
    held = {c for c in ids if _unit(c) < fraction}
    if not held:
        held = {min(ids, key=_unit)}
    if len(held) == len(ids):
        held.discard(max(ids, key=_unit))
    return held
