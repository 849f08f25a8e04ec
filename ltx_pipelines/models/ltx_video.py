"""LTX-Video 0.9.x through diffusers' ``LTXPipeline`` (T5 text encoder, causal video VAE)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ltx_pipelines.models.family import LatentGeometry, ModelFamily

MAX_SEQUENCE_LENGTH = 128


class LTXVideoFamily(ModelFamily):
    """LTX-Video: latents normalised with the VAE's mean/std, packed as one token per latent pixel."""

    name = "ltx-video"
    pipeline_class_name = "LTXPipeline"

    def load_encoders(self, path: str, device: torch.device, dtype: torch.dtype):
        from diffusers import LTXPipeline

        pipeline = LTXPipeline.from_pretrained(path, transformer=None, torch_dtype=dtype)
        pipeline.vae.to(device).eval()
        pipeline.text_encoder.to(device).eval()
        return pipeline

    def load_transformer(self, path: str, device: torch.device, dtype: torch.dtype) -> torch.nn.Module:
        from diffusers import LTXVideoTransformer3DModel

        return LTXVideoTransformer3DModel.from_pretrained(path, subfolder="transformer", torch_dtype=dtype).to(device)

    def load_pipeline(self, path: str, device: torch.device, dtype: torch.dtype):
        from diffusers import LTXPipeline

        pipeline = LTXPipeline.from_pretrained(path, torch_dtype=dtype)
        pipeline.set_progress_bar_config(disable=True)
        return pipeline.to(device)

    @torch.no_grad()
    def encode_video(self, pipeline, frames: torch.Tensor) -> torch.Tensor:
        vae = pipeline.vae
        pixels = frames.to(vae.device, vae.dtype).permute(3, 0, 1, 2).unsqueeze(0) / 127.5 - 1.0  # 1×3×F×H×W
        latents = vae.encode(pixels).latent_dist.mode()
        latents = pipeline._normalize_latents(latents, vae.latents_mean, vae.latents_std, vae.config.scaling_factor)
        return latents[0].float().cpu()

    @torch.no_grad()
    def encode_prompts(self, pipeline, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
        embeds, mask, _, _ = pipeline.encode_prompt(
            texts,
            do_classifier_free_guidance=False,
            max_sequence_length=MAX_SEQUENCE_LENGTH,
            device=pipeline.text_encoder.device,
        )
        return embeds.float().cpu(), mask.cpu()

    def predict_velocity(self, transformer, geometry, noisy, timesteps, prompt_embeds, prompt_mask, frame_rate):
        from diffusers import LTXPipeline

        batch, _, frames, height, width = noisy.shape
        tokens = LTXPipeline._pack_latents(noisy, 1, 1)
        # σ per latent frame, broadcast to every token of that frame; the model reads timesteps in [0, 1000].
        per_token = timesteps[:, :, None].expand(batch, frames, height * width).reshape(batch, -1) * 1000.0
        out = transformer(
            hidden_states=tokens,
            encoder_hidden_states=prompt_embeds,
            timestep=per_token,
            encoder_attention_mask=prompt_mask,
            num_frames=frames,
            height=height,
            width=width,
            rope_interpolation_scale=(geometry.temporal / frame_rate, geometry.spatial, geometry.spatial),
            return_dict=False,
        )[0]
        return LTXPipeline._unpack_latents(out, frames, height, width, 1, 1)

    def geometry(self, path: str) -> LatentGeometry:
        config = json.loads((Path(path) / "vae" / "config.json").read_text())
        spatial = config.get("spatial_compression_ratio") or config["patch_size"] * 2 ** sum(
            bool(x) for x in config["spatio_temporal_scaling"]
        )
        temporal = config.get("temporal_compression_ratio") or config["patch_size_t"] * 2 ** sum(
            bool(x) for x in config["spatio_temporal_scaling"]
        )
        return LatentGeometry(temporal=temporal, spatial=spatial)
