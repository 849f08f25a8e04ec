"""Turn a ``base_model`` value (preset name, local folder or hub id) into a local folder and identity."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from ltx_pipelines.hashing import tree_fingerprint
from ltx_pipelines.home import Home
from ltx_pipelines.models.presets import PRESET_VERSION, PRESETS


@dataclass(frozen=True)
class ResolvedModel:
    """A base model ready to load: where it is, what it is, and a fingerprint that keys caches."""

    model_id: str
    path: str
    revision: str
    fingerprint: str
    pipeline_class: str

    def to_dict(self) -> dict:
        return asdict(self)


def preset_path(name: str, home: Home) -> Path:
    """The folder of preset ``name`` under ``<home>/models``, built (once, offline) when missing."""
    path = home.models / f"{name}-v{PRESET_VERSION}"
    if not path.is_dir():
        PRESETS[name](path)
    return path


def resolve_model(model: str, home: Home, revision: str | None = None) -> ResolvedModel:
    """Resolve ``model``: a preset is built into ``<home>/models/<name>`` once; a folder is used as is; anything
    else is a Hugging Face hub id, downloaded (or taken from the HF cache) with ``snapshot_download``."""
    if model in PRESETS:
        path = preset_path(model, home)
        revision = revision or f"preset-v{PRESET_VERSION}"
    elif Path(model).expanduser().is_dir():
        path = Path(model).expanduser().resolve()
        revision = revision or "local"
    else:
        from huggingface_hub import snapshot_download

        path = Path(
            snapshot_download(model, revision=revision, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"])
        )
        revision = path.name  # the snapshot folder is named by commit hash
    index = path / "model_index.json"
    if not index.exists():
        raise FileNotFoundError(f"{path}: no model_index.json; base_model must be a diffusers pipeline folder")
    pipeline_class = json.loads(index.read_text())["_class_name"]
    return ResolvedModel(model, str(path), revision, tree_fingerprint(path), pipeline_class)
