"""Tensor files: safetensors only (never pickle), written atomically."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from ltx_pipelines.atomic import atomic_path


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> Path:
    """Write ``tensors`` as a safetensors file atomically (contiguous CPU copies)."""
    prepared = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(prepared, str(tmp), metadata=metadata)
    return Path(path)


def load_tensors(path: str | os.PathLike[str], device: str = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file."""
    return load_file(str(path), device=device)


def tensor_shape(path: str | os.PathLike[str], name: str) -> tuple[int, ...]:
    """The shape of one tensor in a safetensors file, read from the header alone."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return tuple(handle.get_slice(name).get_shape())
