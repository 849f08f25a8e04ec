"""LTX-2 through diffusers' ``LTX2Pipeline``: Gemma 3 text encoder + connectors, video and audio VAEs.

The text cache holds the connectors' outputs (video and audio prompt embeddings, the connector mask), so the
~12B-parameter text encoder never loads during training. Clips without sound train the video stream alone: their
audio input is pure noise at σ = 1 and carries no loss.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from ltx_pipelines.media.audio import resample
from ltx_pipelines.models.family import (
    AUDIO,
    REFERENCE,
    VIDEO,
    AudioClip,
    GeneratedClip,
    LatentGeometry,
    ModelFamily,
    derived_pipeline,
)
from ltx_pipelines.models.ltx_video import pixels_of
from ltx_pipelines.models.mel import log_mel

MAX_SEQUENCE_LENGTH = 1024  # LTX2Pipeline's default; connectors with learnable registers depend on it


def sequence_length(tokenizer) -> int:
    """Prompt length for training and generation alike: the pipeline's 1024, or less if the tokenizer says so
    (the tiny preset's does, to keep tests fast)."""
    return min(MAX_SEQUENCE_LENGTH, int(getattr(tokenizer, "model_max_length", MAX_SEQUENCE_LENGTH)))


class LTX2Family(ModelFamily):
    """LTX-2 audio + video: two streams, one transformer."""

    name = "ltx-2"
    pipeline_class_name = "LTX2Pipeline"
    transformer_class_name = "LTX2VideoTransformer3DModel"
    image_pipeline_class = "LTX2ImageToVideoPipeline"
    modalities = (VIDEO, AUDIO)

    def _call_arguments(self, pipeline, prompt, settings, seed) -> dict:
        arguments = super()._call_arguments(pipeline, prompt, settings, seed)
        return {**arguments, "max_sequence_length": sequence_length(pipeline.tokenizer)}

    def generate_in_context(self, pipeline, prompt, settings, seed, reference, downscale) -> GeneratedClip:
        """Diffusers' ``LTX2InContextPipeline`` with the reference as an ``LTX2ReferenceCondition``."""
        from diffusers.pipelines.ltx2.pipeline_ltx2_ic_lora import LTX2ReferenceCondition
        from PIL import Image

        in_context = derived_pipeline(pipeline, "LTX2InContextPipeline")
        condition = LTX2ReferenceCondition(frames=[Image.fromarray(frame) for frame in reference])
        output = in_context(
            **self._call_arguments(in_context, prompt, settings, seed),
            reference_conditions=[condition],
            reference_downscale_factor=downscale,
        )
        return self._clip(in_context, output)

    def load_encoders(self, path: str, device: torch.device, dtype: torch.dtype):
        from diffusers import LTX2Pipeline

        pipeline = LTX2Pipeline.from_pretrained(path, transformer=None, vocoder=None, dtype=dtype, use_safetensors=True)
        for part in (pipeline.vae, pipeline.audio_vae, pipeline.text_encoder, pipeline.connectors):
            part.to(device).eval()
        return pipeline

    def geometry(self, path: str) -> LatentGeometry:
        from accelerate import init_empty_weights
        from diffusers import AutoencoderKLLTX2Audio, AutoencoderKLLTX2Video

        with init_empty_weights():  # the compression factors without allocating the weights
            vae = AutoencoderKLLTX2Video.from_config(_config(path, "vae"))
            audio = AutoencoderKLLTX2Audio.from_config(_config(path, "audio_vae"))
        return LatentGeometry(
            temporal=vae.temporal_compression_ratio,
            spatial=vae.spatial_compression_ratio,
            audio_latents_per_second=audio.config.sample_rate
            / audio.config.mel_hop_length
            / audio.temporal_compression_ratio,
            audio_channels=audio.config.latent_channels,
            audio_mel_bins=audio.config.mel_bins // audio.mel_compression_ratio,
        )

    @torch.no_grad()
    def encode_clip(self, encoders, frames: torch.Tensor, audio: AudioClip | None) -> dict[str, torch.Tensor]:
        vae = encoders.vae
        latents = vae.encode(pixels_of(frames, vae)).latent_dist.mode()
        latents = encoders._normalize_latents(latents, vae.latents_mean, vae.latents_std, vae.config.scaling_factor)
        out = {VIDEO: latents[0].float().cpu()}
        if audio is not None:
            out[AUDIO] = self._encode_audio(encoders, audio)
        return out

    def _encode_audio(self, encoders, audio: AudioClip) -> torch.Tensor:
        audio_vae = encoders.audio_vae
        config = audio_vae.config
        waveform = resample(audio.waveform, audio.sample_rate, config.sample_rate)
        if waveform.shape[0] != config.in_channels:  # mono ↔ stereo
            waveform = waveform.mean(0, keepdim=True).expand(config.in_channels, -1)
        mel = log_mel(waveform, config.sample_rate, config.mel_hop_length, config.mel_bins).unsqueeze(0)
        latents = audio_vae.encode(mel.to(audio_vae.device, audio_vae.dtype)).latent_dist.mode()  # 1×C×L×M
        length, bins = latents.shape[2:]
        packed = encoders._normalize_audio_latents(
            encoders._pack_audio_latents(latents), audio_vae.latents_mean, audio_vae.latents_std
        )
        latents = encoders._unpack_audio_latents(packed, length, bins)[0]
        seconds = waveform.shape[-1] / config.sample_rate
        wanted = round(seconds * config.sample_rate / config.mel_hop_length / audio_vae.temporal_compression_ratio)
        if latents.shape[1] < wanted:
            latents = torch.nn.functional.pad(latents, (0, 0, 0, wanted - latents.shape[1]))
        return latents[:, :wanted].float().cpu()

    @torch.no_grad()
    def encode_prompts(self, encoders, texts: list[str]) -> list[dict[str, torch.Tensor]]:
        device = encoders.text_encoder.device
        embeds, mask, _, _ = encoders.encode_prompt(
            texts,
            do_classifier_free_guidance=False,
            max_sequence_length=sequence_length(encoders.tokenizer),
            device=device,
        )
        side = getattr(encoders.tokenizer, "padding_side", "left")
        video, audio, connector_mask = encoders.connectors(embeds, mask, padding_side=side)
        return [
            {"prompt_embeds": v.float().cpu(), "audio_prompt_embeds": a.float().cpu(), "prompt_attention_mask": m.cpu()}
            for v, a, m in zip(video, audio, connector_mask, strict=True)
        ]

    def predict(self, transformer, geometry, noisy, sigmas, text, frame_rate):
        from diffusers import LTX2Pipeline

        video, audio = noisy[VIDEO], noisy[AUDIO]
        batch, _, frames, height, width = video.shape
        audio_length, audio_bins = audio.shape[2], audio.shape[3]
        patch, patch_t = transformer.config.patch_size, transformer.config.patch_size_t
        per_token = sigmas[VIDEO][:, :, None].expand(batch, frames, height * width).reshape(batch, -1) * 1000.0
        audio_t = sigmas[AUDIO] * 1000.0
        device = video.device
        tokens = LTX2Pipeline._pack_latents(video, patch, patch_t)
        video_coords = transformer.rope.prepare_video_coords(batch, frames, height, width, device, fps=frame_rate)
        if (reference := text.get(REFERENCE)) is not None:  # IC-LoRA, as LTX2InContextPipeline lays it out
            _, _, ref_frames, ref_height, ref_width = reference.shape
            ref_coords = transformer.rope.prepare_video_coords(
                batch, ref_frames, ref_height, ref_width, device, fps=frame_rate
            )
            ref_coords[:, 1:3] *= height / ref_height
            video_coords = torch.cat([ref_coords, video_coords], dim=2)
            ref_tokens = LTX2Pipeline._pack_latents(reference.to(tokens.dtype), patch, patch_t)
            tokens = torch.cat([ref_tokens, tokens], dim=1)
            per_token = torch.cat([per_token.new_zeros(batch, ref_tokens.shape[1]), per_token], dim=1)
        video_out, audio_out = transformer(
            hidden_states=tokens,
            audio_hidden_states=LTX2Pipeline._pack_audio_latents(audio),
            encoder_hidden_states=text["prompt_embeds"],
            audio_encoder_hidden_states=text["audio_prompt_embeds"],
            timestep=per_token,
            audio_timestep=audio_t,
            sigma=sigmas[VIDEO].amax(dim=1) * 1000.0,
            audio_sigma=audio_t,
            encoder_attention_mask=text["prompt_attention_mask"],
            audio_encoder_attention_mask=text["prompt_attention_mask"],
            num_frames=frames,
            height=height,
            width=width,
            fps=frame_rate,
            audio_num_frames=audio_length,
            video_coords=video_coords,
            audio_coords=transformer.audio_rope.prepare_audio_coords(batch, audio_length, device),
            return_dict=False,
        )
        video_out = video_out[:, -frames * height * width // (patch * patch * patch_t) :]
        return {
            VIDEO: LTX2Pipeline._unpack_latents(video_out, frames, height, width, patch, patch_t),
            AUDIO: LTX2Pipeline._unpack_audio_latents(audio_out, audio_length, audio_bins),
        }


def _config(path: str, component: str) -> dict:
    return json.loads((Path(path) / component / "config.json").read_text())
