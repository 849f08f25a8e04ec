"""Training checkpoints in one safetensors file each (no pickle): trainable weights, optimizer and LR
scheduler state, step and per-step history. Written atomically; the newest K are kept."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import torch

from ltx_pipelines.tensors import load_tensors, save_tensors

FORMAT = "ltx-pipelines-checkpoint-2"
_NAME = re.compile(r"^step-(\d{8})\.safetensors$")


@dataclass
class TrainingState:
    """What a resumed run needs: the step reached and the per-step history so far."""

    step: int
    history: list[dict]


def checkpoint_path(directory: Path, step: int) -> Path:
    return directory / f"step-{step:08d}.safetensors"


def list_checkpoints(directory: Path) -> list[Path]:
    """Complete checkpoints in ``directory``, oldest first (temp files never match the name)."""
    if not directory.is_dir():
        return []
    return sorted(p for p in directory.iterdir() if _NAME.match(p.name))


def save_checkpoint(
    directory: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    history: list[dict],
    keep: int,
) -> Path:
    """Write the checkpoint for ``step`` and prune all but the newest ``keep``."""
    tensors = {f"param.{n}": p for n, p in model.named_parameters() if p.requires_grad}
    optimizer_state = optimizer.state_dict()
    for index, state in optimizer_state["state"].items():
        for name, value in state.items():
            tensors[f"optim.{index}.{name}"] = value if torch.is_tensor(value) else torch.tensor(value)
    metadata = {
        "format": FORMAT,
        "step": str(step),
        "param_groups": json.dumps(optimizer_state["param_groups"]),
        "scheduler": json.dumps({k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}),
        "history": json.dumps(history),
    }
    path = save_tensors(checkpoint_path(directory, step), tensors, metadata=metadata)
    for old in list_checkpoints(directory)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(
    path: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> TrainingState:
    """Restore weights, optimizer and scheduler from ``path`` in place; returns step and history."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        metadata = handle.metadata() or {}
    if metadata.get("format") != FORMAT:
        raise ValueError(f"{path}: not an ltx-pipelines checkpoint (format {metadata.get('format')!r})")
    tensors = load_tensors(path)
    trainable = {n: p for n, p in model.named_parameters() if p.requires_grad}
    missing = [n for n in trainable if f"param.{n}" not in tensors]
    if missing:
        raise ValueError(f"{path}: checkpoint lacks {len(missing)} trainable tensors, e.g. {missing[0]}")
    with torch.no_grad():
        for name, param in trainable.items():
            param.copy_(tensors[f"param.{name}"])
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, index, name = key.split(".", 2)
            state.setdefault(int(index), {})[name] = value
    optimizer.load_state_dict({"state": state, "param_groups": json.loads(metadata["param_groups"])})
    scheduler.load_state_dict({**scheduler.state_dict(), **json.loads(metadata["scheduler"])})
    return TrainingState(step=int(metadata["step"]), history=json.loads(metadata["history"]))
