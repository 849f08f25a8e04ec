"""The compute device for encoding, training and evaluation."""

import dagster as dg
import torch

from ltx_pipelines.compute import resolve_device


class ComputeResource(dg.ConfigurableResource):
    """``auto`` picks CUDA when present, else CPU; or name a device (``cuda:1``). ``processes`` > 1 trains
    data-parallel with torchrun (one process per GPU)."""

    device: str = "auto"
    processes: int = 1

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)
