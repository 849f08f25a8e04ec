"""LTX-Video 0.9.x through diffusers' ``LTXPipeline`` (T5 text encoder, causal video VAE)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from ltx_pipelines.models.family import REFERENCE, VIDEO, AudioClip, GeneratedClip, LatentGeometry, ModelFamily

MAX_SEQUENCE_LENGTH = 128


def pixels_of(frames: torch.Tensor, vae: torch.nn.Module) -> torch.Tensor:
    """F×H×W×3 uint8 → 1×3×F×H×W in [-1, 1] on the VAE's device and dtype."""
    return frames.to(vae.device, vae.dtype).permute(3, 0, 1, 2).unsqueeze(0) / 127.5 - 1.0


class LTXVideoFamily(ModelFamily):
    """LTX-Video: latents normalised with the VAE's mean/std, packed as one token per latent pixel."""

    name = "ltx-video"
    pipeline_class_name = "LTXPipeline"
    transformer_class_name = "LTXVideoTransformer3DModel"
    image_pipeline_class = "LTXImageToVideoPipeline"

    def load_encoders(self, path: str, device: torch.device, dtype: torch.dtype):
        from diffusers import LTXPipeline

        pipeline = LTXPipeline.from_pretrained(path, transformer=None, dtype=dtype, use_safetensors=True)
        pipeline.vae.to(device).eval()
        pipeline.text_encoder.to(device).eval()
        return pipeline

    def geometry(self, path: str) -> LatentGeometry:
        from accelerate import init_empty_weights
        from diffusers import AutoencoderKLLTXVideo

        with init_empty_weights():  # the compression factors without allocating the weights
            vae = AutoencoderKLLTXVideo.from_config(json.loads((Path(path) / "vae" / "config.json").read_text()))
        return LatentGeometry(temporal=vae.temporal_compression_ratio, spatial=vae.spatial_compression_ratio)

    @torch.no_grad()
    def encode_clip(self, encoders, frames: torch.Tensor, audio: AudioClip | None) -> dict[str, torch.Tensor]:
        vae = encoders.vae
        latents = vae.encode(pixels_of(frames, vae)).latent_dist.mode()
        latents = encoders._normalize_latents(latents, vae.latents_mean, vae.latents_std, vae.config.scaling_factor)
        return {VIDEO: latents[0].float().cpu()}

    @torch.no_grad()
    def encode_prompts(self, encoders, texts: list[str]) -> list[dict[str, torch.Tensor]]:
        embeds, mask, _, _ = encoders.encode_prompt(
            texts,
            do_classifier_free_guidance=False,
            max_sequence_length=MAX_SEQUENCE_LENGTH,
            device=encoders.text_encoder.device,
        )
        return [
            {"prompt_embeds": e.float().cpu(), "prompt_attention_mask": m.cpu()}
            for e, m in zip(embeds, mask, strict=True)
        ]

    def predict(self, transformer, geometry, noisy, sigmas, text, frame_rate):
        from diffusers import LTXPipeline

        video = noisy[VIDEO]
        batch, _, frames, height, width = video.shape
        patch, patch_t = transformer.config.patch_size, transformer.config.patch_size_t
        scale = (geometry.temporal / frame_rate, geometry.spatial, geometry.spatial)
        tokens = LTXPipeline._pack_latents(video, patch, patch_t)
        # σ per latent frame, broadcast to every token of that frame; the model reads timesteps in [0, 1000].
        per_token = sigmas[VIDEO][:, :, None].expand(batch, frames, height * width).reshape(batch, -1) * 1000.0
        coords = None
        if (reference := text.get(REFERENCE)) is not None:  # IC-LoRA: clean reference tokens first, same positions
            _, _, ref_frames, ref_height, ref_width = reference.shape
            ref_coords = _coords(transformer, batch, ref_frames, ref_height, ref_width, scale, video.device)
            ref_coords[:, 1:] *= height / ref_height
            target_coords = _coords(transformer, batch, frames, height, width, scale, video.device)
            coords = torch.cat([ref_coords, target_coords], dim=2)
            ref_tokens = LTXPipeline._pack_latents(reference.to(tokens.dtype), patch, patch_t)
            tokens = torch.cat([ref_tokens, tokens], dim=1)
            per_token = torch.cat([per_token.new_zeros(batch, ref_tokens.shape[1]), per_token], dim=1)
        out = transformer(
            hidden_states=tokens,
            encoder_hidden_states=text["prompt_embeds"],
            timestep=per_token,
            encoder_attention_mask=text["prompt_attention_mask"],
            num_frames=frames,
            height=height,
            width=width,
            rope_interpolation_scale=scale,
            video_coords=coords,
            return_dict=False,
        )[0]
        out = out[:, -frames * height * width // (patch * patch * patch_t) :]
        return {VIDEO: LTXPipeline._unpack_latents(out, frames, height, width, patch, patch_t)}

    @torch.no_grad()
    def generate_in_context(self, pipeline, prompt, settings, seed, reference, downscale) -> GeneratedClip:
        """Our in-context sampler (diffusers has none for LTX-Video): Euler steps of the flow with the reference's
        clean tokens in the sequence, as in training, then the VAE decode the pipeline does."""
        import copy

        from diffusers.pipelines.ltx.pipeline_ltx import calculate_shift

        from ltx_pipelines.encoding import downscale as shrink

        transformer = pipeline.transformer
        device = transformer.device
        geometry = LatentGeometry(pipeline.vae_temporal_compression_ratio, pipeline.vae_spatial_compression_ratio)
        text = {k: v.unsqueeze(0).to(device) for k, v in self.encode_prompts(pipeline, [prompt])[0].items()}
        ref = self.encode_clip(pipeline, shrink(torch.from_numpy(np.ascontiguousarray(reference)), downscale), None)
        text[REFERENCE] = ref[VIDEO].unsqueeze(0).to(device)
        frames, height, width = geometry.latent_shape(settings.frames, settings.height, settings.width)
        channels = transformer.config.in_channels
        latents = torch.randn((1, channels, frames, height, width), generator=torch.Generator().manual_seed(seed))
        latents = latents.to(device)
        scheduler = copy.deepcopy(pipeline.scheduler)
        config = scheduler.config
        mu = calculate_shift(
            frames * height * width,
            config.get("base_image_seq_len", 256),
            config.get("max_image_seq_len", 4096),
            config.get("base_shift", 0.5),
            config.get("max_shift", 1.15),
        )
        scheduler.set_timesteps(sigmas=np.linspace(1.0, 1 / settings.steps, settings.steps), mu=mu, device=device)
        for timestep in scheduler.timesteps:
            sigma = torch.full((1, frames), float(timestep) / 1000.0, device=device)
            velocity = self.predict(transformer, geometry, {VIDEO: latents}, {VIDEO: sigma}, text, settings.frame_rate)
            latents = scheduler.step(velocity[VIDEO], timestep, latents, return_dict=False)[0]
        return GeneratedClip(self.decode(pipeline, latents[0]), latents=latents[0].float().cpu())


def _coords(transformer, batch: int, frames: int, height: int, width: int, scale, device) -> torch.Tensor:
    """B×3×N RoPE coordinates as ``video_coords`` takes them (the rope's own grid, before its normalisation)."""
    rope = transformer.rope
    grid = rope._prepare_video_coords(batch, frames, height, width, scale, device)  # B×N×3, normalised
    bases = torch.tensor([rope.base_num_frames, rope.base_height, rope.base_width], device=device)
    return (grid * bases).transpose(1, 2)
