"""Tiny base models built offline from the real diffusers/transformers classes (random weights, seeded).

They load with ``from_pretrained`` exactly like ``Lightricks/LTX-Video``: only the config values differ.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ltx_pipelines.atomic import atomic_dir

PRESET_VERSION = "1"


def build_tiny_ltx_video(target: Path, seed: int = 0) -> Path:
    """Save a tiny ``LTXPipeline`` (1-layer transformer, 4×/4× VAE, small T5 + ByT5 tokenizer) to ``target``."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXPipeline,
        LTXVideoTransformer3DModel,
    )
    from transformers import ByT5Tokenizer, T5Config, T5EncoderModel

    torch.manual_seed(seed)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        num_attention_heads=4,
        attention_head_dim=16,
        cross_attention_dim=64,
        num_layers=2,
        caption_channels=32,
    )
    vae = AutoencoderKLLTXVideo(
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4,
        upsample_factor=(1,) * 4,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    text_encoder = T5EncoderModel(
        T5Config(
            d_model=32,
            d_kv=8,
            d_ff=64,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            relative_attention_max_distance=32,
            vocab_size=384,
            feed_forward_proj="gated-gelu",
        )
    )
    pipeline = LTXPipeline(
        transformer=transformer,
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=ByT5Tokenizer(),
        scheduler=FlowMatchEulerDiscreteScheduler(  # the values Lightricks/LTX-Video ships
            use_dynamic_shifting=True,
            base_shift=0.95,
            max_shift=2.05,
            base_image_seq_len=1024,
            max_image_seq_len=4096,
            shift_terminal=0.1,
        ),
    )
    with atomic_dir(target) as tmp:
        pipeline.save_pretrained(tmp, safe_serialization=True)
        (tmp / "ltx_pipelines_preset.txt").write_text(f"tiny-ltx-video v{PRESET_VERSION} seed {seed}\n")
    return target


PRESETS: dict[str, Callable[[Path], Path]] = {
    "tiny-ltx-video": build_tiny_ltx_video,
}
