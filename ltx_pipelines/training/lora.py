"""LoRA files: diffusers format (``transformer.`` keys) and a ComfyUI copy (``diffusion_model.``), and diffusers'
loader to put them back (see ``adapters.py`` for every adapter type)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import safe_open

from ltx_pipelines.tensors import load_tensors, save_tensors

DIFFUSERS_WEIGHT_NAME = "pytorch_lora_weights.safetensors"
COMFY_WEIGHT_NAME = "comfyui_lora.safetensors"
METADATA_KEY = "ltx_pipelines"


def lora_state_dict(transformer: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The adapter's weights with peft's key names (no ``transformer.`` prefix)."""
    from peft.utils import get_peft_model_state_dict

    return {k: v.detach().float().cpu().contiguous() for k, v in get_peft_model_state_dict(transformer).items()}


def save_lora_files(
    directory: Path, transformer: torch.nn.Module, pipeline_class: type, metadata: dict, comfy: bool = True
) -> tuple[Path, Path | None]:
    """Write the LoRA in diffusers format (``pipe.load_lora_weights(directory)`` works) and, with ``comfy``, a
    ComfyUI copy in ``directory/comfyui/``; both carry ``metadata`` (base model, rank, ...) in their header."""
    state = lora_state_dict(transformer)
    adapter_config = transformer.peft_config["default"].to_dict()
    header = {METADATA_KEY: json.dumps(metadata, sort_keys=True, default=str)}
    with tempfile.TemporaryDirectory() as tmp:
        pipeline_class.save_lora_weights(
            tmp,
            transformer_lora_layers=state,
            transformer_lora_adapter_metadata=_jsonable(adapter_config),
            safe_serialization=True,
        )
        written = Path(tmp) / DIFFUSERS_WEIGHT_NAME
        with safe_open(str(written), framework="pt") as handle:
            header = {**(handle.metadata() or {}), **header}
        diffusers_file = save_tensors(directory / DIFFUSERS_WEIGHT_NAME, load_tensors(written), metadata=header)
    if not comfy:
        return diffusers_file, None
    comfy_state = {f"diffusion_model.{k}": v for k, v in state.items()}
    return diffusers_file, save_tensors(directory / "comfyui" / COMFY_WEIGHT_NAME, comfy_state, metadata=header)


def read_adapter_metadata(path: str | os.PathLike[str]) -> dict:
    """The ltx-pipelines metadata stored in an adapter file's safetensors header."""
    with safe_open(str(path), framework="pt") as handle:
        raw = (handle.metadata() or {}).get(METADATA_KEY)
    return json.loads(raw) if raw else {}


def _jsonable(config: dict) -> dict:
    return {k: (sorted(v) if isinstance(v, set) else v) for k, v in config.items() if _is_plain(v)}


def _is_plain(value) -> bool:
    return value is None or isinstance(value, (str, int, float, bool, list, dict, set, tuple))


def load_adapter_into(transformer: torch.nn.Module, pipeline_class: type, path: str | Path, adapter_name: str) -> None:
    """Load an adapter file or folder into ``transformer`` through diffusers' own LoRA loader (the path
    ``pipe.load_lora_weights`` takes, including its ComfyUI-format conversion)."""
    state_dict, metadata = pipeline_class.lora_state_dict(str(path), return_lora_metadata=True, use_safetensors=True)
    pipeline_class.load_lora_into_transformer(
        state_dict, transformer=transformer, adapter_name=adapter_name, metadata=metadata
    )
