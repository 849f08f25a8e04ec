"""Data-parallel training across processes (``torchrun``): NCCL on GPUs, gloo on CPU.

Each global batch is split across ranks; every rank scales its summed per-sample losses by 1/global batch, and
the LoRA gradients are summed across ranks in one all-reduce, so the update equals the one-process update on the
whole batch. Only rank 0 writes checkpoints and the adapter; checkpoints do not depend on the world size.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist

T = TypeVar("T")


@dataclass(frozen=True)
class DataParallel:
    """This process's place in the job: rank, world size and local rank (one process per device)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_env(cls) -> DataParallel:
        """Read ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` as torchrun sets them (single process otherwise)."""
        return cls(
            int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))
        )

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def device(self, requested: torch.device) -> torch.device:
        """One GPU per process: ``cuda:<local rank>``; CPU stays CPU."""
        if requested.type == "cuda" and self.active:
            return torch.device("cuda", self.local_rank)
        return requested

    def start(self, device: torch.device) -> None:
        """Join the process group (NCCL for CUDA, gloo for CPU) if running under torchrun."""
        if self.active and not dist.is_initialized():
            if device.type == "cuda":
                torch.cuda.set_device(device)
            dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")

    def stop(self) -> None:
        if self.active and dist.is_initialized():
            dist.destroy_process_group()

    def shard(self, items: Sequence[T]) -> list[T]:
        """This rank's share of a global batch (strided, so shards differ in size by at most one)."""
        return list(items[self.rank :: self.world_size])

    def sum_gradients(self, params: Sequence[torch.nn.Parameter]) -> None:
        """Sum the gradients of ``params`` across ranks in one all-reduce."""
        if not self.active:
            return
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        offset = 0
        for param, grad in zip(params, grads, strict=True):
            param.grad = flat[offset : offset + grad.numel()].view_as(grad).clone()
            offset += grad.numel()

    def sum(self, value: float, device: torch.device) -> float:
        """A scalar summed across ranks (every rank gets the total)."""
        if not self.active:
            return value
        tensor = torch.tensor([value], dtype=torch.float64, device=device)
        dist.all_reduce(tensor)
        return float(tensor.item())

    def barrier(self) -> None:
        if self.active:
            dist.barrier()
