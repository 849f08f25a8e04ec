"""The captioner: the VLM that captions clips without a caption (a recipe's ``dataset.captioning.model`` wins)."""

import dagster as dg
import torch

from ltx_pipelines.captioning.presets import resolve_captioner
from ltx_pipelines.captioning.vlm import VlmCaptioner
from ltx_pipelines.config import CaptioningSpec
from ltx_pipelines.home import Home


class CaptionerResource(dg.ConfigurableResource):
    """``model``: the default VLM (folder, hub id such as ``Qwen/Qwen2.5-VL-7B-Instruct``, or ``tiny-vlm``) for
    datasets whose recipe names none; unset, clips without a caption are quarantined."""

    model: str | None = None

    def captioner(self, spec: CaptioningSpec, home: Home, device: torch.device) -> VlmCaptioner | None:
        """A lazily loading captioner for ``spec`` on ``device``, or None when no model is configured."""
        model = spec.model or self.model
        if not model:
            return None
        return VlmCaptioner(resolve_captioner(model, home), spec, device)
