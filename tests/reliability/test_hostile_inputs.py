"""Hostile manifests, captions, recipes and weight files: refused with a clear reason naming the file, never a
crash, never code run from a file."""

from __future__ import annotations

import json
import os
import pickle
import struct
from pathlib import Path

import pytest
import torch

from ltx_pipelines.config import RecipeError, load_recipe
from ltx_pipelines.dataset import MAX_CAPTION_BYTES
from ltx_pipelines.tensors import TensorFileError, load_tensors, save_tensors, tensor_shape
from tests import media_factory as media
from tests.test_dataset_stages import BUCKETS, run_stages

OUTSIDE = "unsafe path: outside the dataset root"
INVALID = "unsafe path: cannot be resolved"
HUGE_CAPTION = 10 * 1024 * 1024


def _dataset(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    (root / "videos").mkdir(parents=True)
    media.write_counter(root / "videos" / "ok.mp4", frames=24)
    media.write_counter(root / "videos" / "other.mp4", frames=24, width=64, height=64)
    return root


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _stages(root: Path, tmp_path: Path, **spec) -> dict:
    from ltx_pipelines.config import DatasetSpec

    return run_stages(root, DatasetSpec(buckets=BUCKETS, **spec), tmp_path / "cache")


# --- manifests: path escapes not covered by tests/test_dataset_stages.py, hostile captions and names ---


def test_manifest_rows_with_hostile_paths_and_captions(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    outside = media.write_counter(tmp_path / "private.mp4", frames=24)
    os.symlink(tmp_path, root / "videos" / "up")  # a symlinked folder leading out of the root
    rows = [
        {"caption": "fine", "media_path": "videos/ok.mp4"},
        {"caption": "escaping reference", "media_path": "videos/other.mp4", "reference_path": "../private.mp4"},
        {"caption": "through a symlinked folder", "media_path": "videos/up/private.mp4"},
        {"caption": "nul byte", "media_path": "videos/ok\x00.mp4"},
        {"caption": "lone surrogate", "media_path": "videos/\ud800.mp4"},
        {"caption": "x" * HUGE_CAPTION, "media_path": "videos/../videos/other.mp4"},
        {"caption": "bad \ud800 text", "media_path": "./videos/other.mp4"},
        {"caption": "a number for a path", "media_path": 12345},
    ]
    _jsonl(root / "dataset.jsonl", rows)
    out = _stages(root, tmp_path)
    assert [(q.path, q.reason) for q in out["scan"].quarantined] == [  # one entry per bad row, in row order
        ("videos/other.mp4", "reference: unsafe path: outside the dataset root"),
        ("videos/up/private.mp4", OUTSIDE),
        ("videos/ok\x00.mp4", INVALID),
        ("videos/\ud800.mp4", INVALID),
        ("videos/other.mp4", f"caption too large ({HUGE_CAPTION} bytes > {MAX_CAPTION_BYTES})"),
        ("videos/other.mp4", "caption is not UTF-8 text"),
        ("12345", "file not found"),
    ]
    assert [c.clip_id for c in out["captions"].captions] == ["videos/ok.mp4"]
    assert outside.exists()


def test_symlink_loops_are_quarantined_not_raised(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    media.write_counter(root / "ok.mp4", frames=24)
    (root / "ok.txt").write_text("fine")
    os.symlink("loop.mp4", root / "loop.mp4")
    os.symlink("pong.mkv", root / "ping.mkv")
    os.symlink("ping.mkv", root / "pong.mkv")
    out = _stages(root, tmp_path)
    assert out["quarantine"] == {"loop.mp4": INVALID, "ping.mkv": INVALID, "pong.mkv": INVALID}
    assert [c.clip_id for c in out["frames"].clips] == ["ok.mp4"]
    _jsonl(
        root / "dataset.jsonl", [{"caption": "x", "media_path": "loop.mp4"}, {"caption": "y", "media_path": "ok.mp4"}]
    )
    listed = _stages(root, tmp_path)
    assert listed["quarantine"] == {"loop.mp4": INVALID} and len(listed["captions"].captions) == 1


@pytest.mark.parametrize("name", ["../elsewhere.jsonl", "/etc/hostname"])
def test_manifest_named_outside_the_root_is_refused(tmp_path: Path, name: str) -> None:
    root = _dataset(tmp_path)
    _jsonl(tmp_path / "elsewhere.jsonl", [{"caption": "x", "media_path": "videos/ok.mp4"}])
    out = _stages(root, tmp_path, manifest=name)
    assert out["quarantine"] == {name: OUTSIDE} and out["scan"].clips == []


def test_detected_manifest_that_is_a_symlink_out_of_the_root_is_refused(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    elsewhere = _jsonl(tmp_path / "elsewhere.jsonl", [{"caption": "x", "media_path": "videos/ok.mp4"}])
    os.symlink(elsewhere, root / "dataset.jsonl")
    out = _stages(root, tmp_path)
    assert out["quarantine"] == {"dataset.jsonl": OUTSIDE} and out["scan"].clips == []


def test_manifest_that_is_not_utf8_is_refused_whole(tmp_path: Path) -> None:
    root = _dataset(tmp_path)
    (root / "dataset.csv").write_bytes(b"caption,media_path\n\xff\xfe caf\xe9,videos/ok.mp4\n")
    out = _stages(root, tmp_path, manifest="dataset.csv")
    assert out["quarantine"] == {"dataset.csv": "manifest is not UTF-8 text"}


def test_folder_captions_that_are_huge_or_not_text(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    root.mkdir()
    for name in ("fine", "huge", "latin1", "binary"):
        media.write_counter(root / f"{name}.mp4", frames=24, width=64 + 32 * len(name), height=64)
    (root / "fine.txt").write_text("a fine caption")
    (root / "huge.txt").write_bytes(b"a" * HUGE_CAPTION)
    (root / "latin1.txt").write_bytes("caf\xe9 au lait".encode("latin-1"))
    (root / "binary.txt").write_bytes(bytes(range(256)))
    out = _stages(root, tmp_path)
    assert out["quarantine"] == {
        "huge.mp4": f"caption file too large ({HUGE_CAPTION} bytes > {MAX_CAPTION_BYTES})",
        "latin1.mp4": "caption file is not UTF-8 text",
        "binary.mp4": "caption file is not UTF-8 text",
    }
    assert [(c.clip_id, c.text) for c in out["captions"].captions] == [("fine.mp4", "a fine caption")]


# --- recipes: safe YAML only, unknown keys named with the file ---


def _recipe(tmp_path: Path, text: str) -> Path:
    (tmp_path / "ltx.yaml").write_text(text)
    return tmp_path / "ltx.yaml"


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system ['touch {marker}']",
        "!!python/object/apply:builtins.open ['{marker}', 'w']",
        "!!python/name:os.system",
    ],
)
def test_recipe_with_python_tags_is_refused_and_runs_nothing(tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "PWNED"
    path = _recipe(tmp_path, f"dataset:\n  trigger_word: {tag.format(marker=marker)}\n")
    with pytest.raises(RecipeError) as caught:
        load_recipe(tmp_path)
    assert str(caught.value).startswith(f"{path}: not valid YAML: could not determine a constructor for the tag")
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("dataset:\n  min_sid: 3\n", "dataset.min_sid: Extra inputs are not permitted"),
        ("trainig:\n  steps: 3\n", "trainig: Extra inputs are not permitted"),
        ("lora: {rank: 4, alhpa: 4}\n", "lora.alhpa: Extra inputs are not permitted"),
        ("dataset:\n  max_pixels: 0\n", "dataset.max_pixels: Input should be greater than or equal to 1"),
        ("- just\n- a list\n", "expected a mapping at the top level, got list"),
    ],
)
def test_recipe_errors_name_the_file_and_the_key(tmp_path: Path, text: str, problem: str) -> None:
    path = _recipe(tmp_path, text)
    with pytest.raises(RecipeError) as caught:
        load_recipe(tmp_path)
    assert str(caught.value) == f"{path}: {problem}"


def test_recipe_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    levels += [f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]" for i in range(8)]
    path = _recipe(tmp_path, "\n".join(levels) + "\n")  # 9**9 strings if expanded; YAML shares them instead
    with pytest.raises(RecipeError) as caught:
        load_recipe(tmp_path)
    assert str(caught.value).startswith(f"{path}: a: Extra inputs are not permitted; ")


# --- weights: safetensors only; pickles are never unpickled, damaged headers name the file ---


class _Payload:
    """A pickle that creates ``marker`` when unpickled: proof that nothing was unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _pickle(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pickle.dumps({"weight": _Payload(marker)}))
    return path


def test_the_pickle_payload_is_live(tmp_path: Path) -> None:
    """Control: unpickling the payload does create its marker, so the tests below would notice."""
    pickle.loads(_pickle(tmp_path / "evil.bin", tmp_path / "control").read_bytes())
    assert (tmp_path / "control").exists()


def test_model_folder_with_only_a_pickle_is_refused_unopened(tmp_path: Path) -> None:
    from ltx_pipelines.models.ltx_video import LTXVideoFamily

    marker, model = tmp_path / "PWNED", tmp_path / "model"
    _pickle(model / "transformer" / "diffusion_pytorch_model.bin", marker)
    (model / "model_index.json").write_text(json.dumps({"_class_name": "LTXPipeline"}))
    (model / "transformer" / "config.json").write_text(json.dumps({"_class_name": "LTXVideoTransformer3DModel"}))
    with pytest.raises(OSError, match=r"no file named diffusion_pytorch_model\.safetensors found in directory"):
        LTXVideoFamily().load_transformer(str(model), torch.device("cpu"), torch.float32)
    assert not marker.exists()


def test_adapter_folder_with_only_a_pickle_fails_naming_the_file(tmp_path: Path) -> None:
    from diffusers import LTXPipeline

    from ltx_pipelines.training.adapters import attach_adapter

    marker = tmp_path / "PWNED"
    weights = _pickle(tmp_path / "adapter" / "pytorch_lora_weights.bin", marker)
    expected = f"no file named pytorch_lora_weights.safetensors found in directory {weights.parent}"
    with pytest.raises(OSError, match=expected):  # safetensors only: the pickle is never opened
        attach_adapter(None, LTXPipeline, weights.parent, "hostile")
    assert not marker.exists()


@pytest.mark.parametrize("name", ["weights.pt", "weights.bin", "weights.safetensors"])
def test_load_tensors_refuses_a_pickle_whatever_its_name(tmp_path: Path, name: str) -> None:
    marker = tmp_path / "PWNED"
    path = _pickle(tmp_path / name, marker)
    with pytest.raises(TensorFileError) as caught:
        load_tensors(path)
    assert str(caught.value).startswith(f"{path}: not a valid safetensors file (") and caught.value.path == str(path)
    assert not marker.exists()


def _header(tensors: dict, declared: int | None = None, data: bytes = b"") -> bytes:
    header = json.dumps(tensors).encode()
    return struct.pack("<Q", len(header) if declared is None else declared) + header + data


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (_header({}, declared=1 << 62), "header too large"),
        (_header({}, declared=50 << 20), "invalid header length"),  # under the cap, past the end of the file
        (_header({"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4_000_000]}}, data=b"\0" * 16), ""),
        (_header({"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 8]}}, data=b"\0" * 8), ""),
        (b"\x01\x00", "header too small"),
        (struct.pack("<Q", 8) + b"not json", "invalid JSON in header"),
    ],
    ids=["huge-length", "length-past-eof", "offsets-past-eof", "shape-vs-offsets", "short", "not-json"],
)
def test_damaged_safetensors_headers_fail_cleanly_naming_the_file(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "damaged.safetensors"
    path.write_bytes(content)
    for read in (load_tensors, lambda p: tensor_shape(p, "w")):
        with pytest.raises(TensorFileError) as caught:
            read(path)
        assert str(caught.value).startswith(f"{path}: not a valid safetensors file (") and problem in str(caught.value)


def test_a_sound_safetensors_file_still_loads(tmp_path: Path) -> None:
    path = save_tensors(tmp_path / "ok.safetensors", {"w": torch.arange(6.0).reshape(2, 3)})
    assert tensor_shape(path, "w") == (2, 3) and load_tensors(path)["w"].sum().item() == 15.0


def test_no_code_loads_pickles() -> None:
    package = Path(__file__).resolve().parents[2] / "ltx_pipelines"
    hostile = ("torch.load(", "pickle.load", "weights_only=False", "use_safetensors=False")
    found = [
        f"{path.relative_to(package)}: {needle}"
        for path in package.rglob("*.py")
        for needle in hostile
        if needle in path.read_text()
    ]
    assert found == []
