"""Pick the device and dtypes: CUDA when present, else CPU; bf16 autocast only where it helps."""

from __future__ import annotations

import contextlib
import gc

import torch


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` → cuda if available, else mps, else cpu; anything else is taken as given."""
    if device != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def autocast(device: torch.device, mixed_precision: str):
    """bf16 autocast on CUDA for ``auto``/``bf16``; a no-op context on CPU or for ``no``."""
    if device.type == "cuda" and mixed_precision in ("auto", "bf16"):
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def free_memory() -> None:
    """Release cached accelerator memory after a model is dropped."""
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def system_metrics(device: torch.device) -> dict[str, float]:
    """CPU use, this process's resident memory and (on CUDA) allocated GPU memory, as MLflow-style names."""
    import psutil

    process = psutil.Process()
    metrics = {
        "system/cpu_utilization_percentage": psutil.cpu_percent(interval=None),
        "system/process_rss_megabytes": process.memory_info().rss / 2**20,
    }
    if device.type == "cuda":
        metrics["system/gpu_memory_allocated_megabytes"] = torch.cuda.memory_allocated(device) / 2**20
        metrics["system/gpu_max_memory_allocated_megabytes"] = torch.cuda.max_memory_allocated(device) / 2**20
    return metrics
