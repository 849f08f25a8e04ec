"""The compute device for encoding, training and evaluation."""

import dagster as dg
import torch

from ltx_pipelines.compute import resolve_device


class ComputeResource(dg.ConfigurableResource):
    """``auto`` picks CUDA when present, else CPU; or name a device (``cuda:1``)."""

    device: str = "auto"

    def torch_device(self) -> torch.device:
        return resolve_device(self.device)
