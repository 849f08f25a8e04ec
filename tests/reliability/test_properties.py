"""Property-based tests (hypothesis): manifest rows, bucket choice and cache keys on arbitrary inputs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ltx_pipelines.config import Bucket, DatasetSpec
from ltx_pipelines.dataset import scan_dataset
from ltx_pipelines.hashing import cache_key, stable_json
from ltx_pipelines.media.buckets import choose_bucket
from tests import media_factory as media

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# --- manifest rows: any row becomes a clip or a quarantine entry with a reason; the scan never raises ---

MEDIA = ("a.mp4", "b.mp4", "still.png", "sub/c.mp4")
_paths = st.one_of(
    st.sampled_from(MEDIA),
    st.sampled_from(["../a.mp4", "/etc/hostname", "sub/../a.mp4", ".", "sub", "missing.mp4", "", "  ", "a.mp4/x"]),
    st.sampled_from(["a\x00.mp4", "\ud800.mp4", "x" * 300 + ".mp4", "/".join(["x" * 200] * 30)]),
    st.text(max_size=40),
    st.integers(),
    st.none(),
)
_captions = st.one_of(st.none(), st.text(max_size=60), st.integers(), st.booleans())
_extra_columns = st.dictionaries(st.text(max_size=8).map(lambda k: f"x-{k}"), st.text(max_size=8), max_size=2)
_row = st.builds(
    lambda row, extra: {**extra, **row},
    st.fixed_dictionaries({"media_path": _paths, "caption": _captions}, optional={"reference_path": _paths}),
    _extra_columns,
)
_rows = st.lists(_row, max_size=8)


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A dataset folder with a few small media files (probed once, then cached) and a probe cache."""
    root = tmp_path_factory.mktemp("library")
    (root / "sub").mkdir()
    for index, name in enumerate(("a.mp4", "b.mp4", "sub/c.mp4")):
        media.write_counter(root / name, frames=12, width=64 + 32 * index, height=64)
    media.write_image(root / "still.png")
    return root, tmp_path_factory.mktemp("probe-cache")


@FAST
@given(rows=_rows)
def test_every_manifest_row_becomes_a_clip_or_a_reasoned_quarantine(library: tuple[Path, Path], rows) -> None:
    root, cache = library
    (root / "rows.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    scan = scan_dataset(root, DatasetSpec(manifest="rows.jsonl"), cache)
    assert scan.manifest == "rows.jsonl"
    assert len(scan.clips) + len(scan.quarantined) == len(rows)
    assert all(q.reason and q.stage == "raw_videos" for q in scan.quarantined)
    for clip in scan.clips:
        assert Path(clip.path).resolve().is_relative_to(root) and clip.clip_id in MEDIA
        assert clip.reference is None or Path(clip.reference.path).is_relative_to(root)
        assert clip.caption is None or (clip.caption == " ".join(clip.caption.split()) and clip.caption)
    assert scan.content_key  # stable JSON of whatever came in


# --- bucket choice: never more frames than the clip has, nearest aspect ratio, then the longest ---

_buckets = st.lists(
    st.builds(
        Bucket,
        width=st.integers(1, 16).map(lambda k: 32 * k),
        height=st.integers(1, 16).map(lambda k: 32 * k),
        frames=st.integers(0, 20).map(lambda k: 8 * k + 1),
    ),
    min_size=1,
    max_size=6,
    unique_by=lambda b: b.label,
)


def _distance(bucket: Bucket, width: int, height: int) -> float:
    return abs(math.log(bucket.aspect) - math.log(width / height))


@settings(max_examples=300, deadline=None)
@given(width=st.integers(1, 9000), height=st.integers(1, 9000), frames=st.integers(0, 200), buckets=_buckets)
def test_bucket_fits_the_clip_and_is_nearest_in_aspect(width: int, height: int, frames: int, buckets) -> None:
    chosen = choose_bucket(width, height, frames, buckets)
    fitting = [b for b in buckets if b.frames <= frames]
    if not fitting:
        assert chosen is None
        return
    assert chosen in fitting and chosen.frames <= frames
    nearest = min(_distance(b, width, height) for b in fitting)
    assert _distance(chosen, width, height) <= nearest + 1e-6
    tied = [b for b in fitting if _distance(b, width, height) <= nearest + 1e-6]
    assert chosen.frames == max(b.frames for b in tied)


# --- cache keys: deterministic, order of dict keys irrelevant, different inputs give different keys ---

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(_json, max_size=4))
def test_cache_key_is_deterministic_and_ignores_dict_order(parts: list) -> None:
    key = cache_key(*parts)
    assert key == cache_key(*json.loads(json.dumps(parts))) and len(key) == 24
    reordered = [dict(reversed(list(p.items()))) if isinstance(p, dict) else p for p in parts]
    assert cache_key(*reordered) == key


@settings(max_examples=200, deadline=None)
@given(a=st.lists(_json, max_size=3), b=st.lists(_json, max_size=3))
def test_different_inputs_give_different_cache_keys(a: list, b: list) -> None:
    if stable_json(a) != stable_json(b):
        assert cache_key(*a) != cache_key(*b)
    else:
        assert cache_key(*a) == cache_key(*b)
