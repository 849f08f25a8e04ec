"""Tensor files: safetensors only (never pickle), written atomically; a damaged file is a :class:`TensorFileError`
naming it."""

from __future__ import annotations

import os
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file

from ltx_pipelines.atomic import atomic_path


class TensorFileError(ValueError):
    """A tensor file that cannot be read: not safetensors, a header too large or inconsistent with the data."""

    def __init__(self, path: str | os.PathLike[str], reason: str):
        super().__init__(f"{path}: {reason}")
        self.path = str(path)
        self.reason = reason


def save_tensors(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None
) -> Path:
    """Write ``tensors`` as a safetensors file atomically (contiguous CPU copies)."""
    prepared = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(prepared, str(tmp), metadata=metadata)
    return Path(path)


def load_tensors(path: str | os.PathLike[str], device: str = "cpu") -> dict[str, torch.Tensor]:
    """Read a safetensors file; :class:`TensorFileError` when it is not a valid one."""
    try:
        return load_file(str(path), device=device)
    except SafetensorError as error:
        raise TensorFileError(path, f"not a valid safetensors file ({error})") from error


def tensor_shape(path: str | os.PathLike[str], name: str) -> tuple[int, ...]:
    """The shape of one tensor in a safetensors file, read from the header alone."""
    try:
        with safe_open(str(path), framework="pt") as handle:
            return tuple(handle.get_slice(name).get_shape())
    except SafetensorError as error:
        raise TensorFileError(path, f"not a valid safetensors file ({error})") from error
