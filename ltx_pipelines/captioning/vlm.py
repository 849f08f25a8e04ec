"""A transformers vision-language model as captioner: sampled frames + an instruction in, one caption out.

Loaded with ``AutoProcessor`` / ``AutoModelForImageTextToText.from_pretrained`` from a local folder, so a real
checkpoint (``Qwen/Qwen2.5-VL-7B-Instruct``, Gemma 3, ...) and the tiny preset take the same code path. Prompts go
through the model's own chat template, frames as images; clips are captioned in batches (left padding).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ltx_pipelines.config import CaptioningSpec
from ltx_pipelines.hashing import cache_key


@dataclass(frozen=True)
class CaptionerModel:
    """A captioning model on disk: the id it was asked for, its folder and a fingerprint of its files."""

    model_id: str
    path: str
    fingerprint: str


class VlmCaptioner:
    """Captions clips with a VLM; the model loads on the first call (cache hits never load it)."""

    def __init__(self, model: CaptionerModel, spec: CaptioningSpec, device: torch.device | str = "cpu"):
        self.model = model
        self.spec = spec
        self.device = torch.device(device)
        self.frames_per_clip = spec.frames
        self.batch_size = spec.batch_size
        self.identity = cache_key(model.fingerprint, spec.prompt, spec.frames, spec.max_new_tokens)
        self._loaded: tuple | None = None

    def caption(self, clips: Sequence[Sequence[np.ndarray]]) -> list[str]:
        """One caption per clip, each from its sampled frames (H×W×3 uint8), greedy decoding."""
        processor, vlm = self._load()
        conversations = [
            [
                {
                    "role": "user",
                    "content": [*({"type": "image"} for _ in frames), {"type": "text", "text": self.spec.prompt}],
                }
            ]
            for frames in clips
        ]
        prompts = [processor.apply_chat_template(c, add_generation_prompt=True, tokenize=False) for c in conversations]
        images = [[Image.fromarray(np.asarray(frame)) for frame in frames] for frames in clips]
        inputs = processor(text=prompts, images=images, padding=True, return_tensors="pt").to(self.device)
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(vlm.dtype)
        with torch.inference_mode():
            generated = vlm.generate(**inputs, max_new_tokens=self.spec.max_new_tokens, do_sample=False)
        new_tokens = generated[:, inputs["input_ids"].shape[1] :]
        return [text.strip() for text in processor.batch_decode(new_tokens, skip_special_tokens=True)]

    def close(self) -> None:
        """Drop the loaded model (frees accelerator memory)."""
        self._loaded = None

    def _load(self) -> tuple:
        if self._loaded is None:
            from transformers import AutoModelForImageTextToText, AutoProcessor

            dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
            processor = AutoProcessor.from_pretrained(self.model.path)
            processor.tokenizer.padding_side = "left"
            vlm = (
                AutoModelForImageTextToText.from_pretrained(self.model.path, dtype=dtype, use_safetensors=True)
                .to(self.device)
                .eval()
            )
            self._loaded = (processor, vlm)
        return self._loaded
