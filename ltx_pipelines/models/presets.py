"""Tiny base models built offline from the real diffusers/transformers classes (random weights, seeded).

They load with ``from_pretrained`` exactly like ``Lightricks/LTX-Video``: only the config values differ.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from ltx_pipelines.atomic import atomic_dir

PRESET_VERSION = "1"
# The style phrases the tiny BPE tokenizers are trained on: fixed, so that adding a demo style changes no preset.
TOKENIZER_STYLES = ("on a soft background, flat colours", "on a dark grid, glowing neon outline")


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


def build_tiny_ltx2(target: Path, seed: int = 0) -> Path:
    """Save a tiny ``LTX2Pipeline``: 2-layer audio-video transformer, video + audio VAEs, vocoder, connectors and
    a 2-layer Gemma 3 with a byte-level BPE tokenizer trained here (no download)."""
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2Pipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration

    torch.manual_seed(seed)
    text_hidden, text_layers = 32, 2
    text_encoder = Gemma3ForConditionalGeneration(
        Gemma3Config(
            text_config={
                "vocab_size": 512,
                "hidden_size": text_hidden,
                "intermediate_size": 64,
                "num_hidden_layers": text_layers,
                "num_attention_heads": 2,
                "num_key_value_heads": 1,
                "head_dim": 16,
                "max_position_embeddings": 2048,
            },
            vision_config={
                "hidden_size": 16,
                "intermediate_size": 32,
                "num_hidden_layers": 1,
                "num_attention_heads": 2,
                "image_size": 28,
                "patch_size": 14,
            },
            mm_tokens_per_image=4,
            boi_token_index=4,
            eoi_token_index=5,
            image_token_index=6,
        )
    )
    transformer = LTX2VideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=16,
        cross_attention_dim=64,
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=8,
        audio_cross_attention_dim=16,
        num_layers=2,
        qk_norm="rms_norm_across_heads",
        caption_channels=text_hidden,
        rope_double_precision=False,
        rope_type="split",
    )
    connectors = LTX2TextConnectors(
        caption_channels=text_hidden,
        text_proj_in_factor=text_layers + 1,
        video_connector_num_attention_heads=4,
        video_connector_attention_head_dim=8,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=4,
        audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_theta=10000.0,
        rope_double_precision=False,
        causal_temporal_positioning=False,
        rope_type="split",
    )
    vae = AutoencoderKLLTX2Video(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8),
        decoder_block_out_channels=(8, 8),
        layers_per_block=(1, 1, 1),
        decoder_layers_per_block=(1, 1, 1),
        spatio_temporal_scaling=(True, True),
        decoder_spatio_temporal_scaling=(True, True),
        decoder_inject_noise=(False, False, False),
        downsample_type=("spatiotemporal", "spatiotemporal"),
        upsample_residual=(False, False),
        upsample_factor=(1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    )
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1, 1, 1),
        num_res_blocks=1,
        attn_resolutions=None,
        in_channels=2,
        resolution=32,
        latent_channels=2,
        norm_type="pixel",
        causality_axis="height",
        dropout=0.0,
        mid_block_add_attention=False,
        sample_rate=16000,
        mel_hop_length=160,
        is_causal=True,
        mel_bins=8,
    )
    vocoder = LTX2Vocoder(
        in_channels=audio_vae.config.output_channels * audio_vae.config.mel_bins,
        hidden_channels=32,
        out_channels=2,
        upsample_kernel_sizes=[4, 4],
        upsample_factors=[2, 2],
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3, 5]],
        leaky_relu_negative_slope=0.1,
        output_sampling_rate=16000,
    )
    pipeline = LTX2Pipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(
            use_dynamic_shifting=True,
            base_shift=0.95,
            max_shift=2.05,
            base_image_seq_len=1024,
            max_image_seq_len=4096,
            shift_terminal=0.1,
        ),
        vae=vae,
        audio_vae=audio_vae,
        text_encoder=text_encoder,
        tokenizer=tiny_gemma_tokenizer(),
        connectors=connectors,
        transformer=transformer,
        vocoder=vocoder,
    )
    with atomic_dir(target) as tmp:
        pipeline.save_pretrained(tmp, safe_serialization=True)
        (tmp / "ltx_pipelines_preset.txt").write_text(f"tiny-ltx2 v{PRESET_VERSION} seed {seed}\n")
    return target


def tiny_gemma_tokenizer(vocab_size: int = 512):
    """A ``GemmaTokenizerFast`` around a byte-level BPE trained here on the demo vocabulary (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GemmaTokenizerFast

    from ltx_pipelines.demo_data import COLOURS, MOTIONS, SHAPES

    special = ["<pad>", "<eos>", "<bos>", "<unk>", "<start_of_image>", "<end_of_image>", "<image_soft_token>"]
    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.Metaspace()
    bpe.decoder = decoders.Metaspace()
    words = [*COLOURS, *SHAPES, *MOTIONS, *TOKENIZER_STYLES, "a moving on the with and of in"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=special, initial_alphabet=[chr(i) for i in range(32, 127)]
    )
    bpe.train_from_iterator(words * 4, trainer)
    return GemmaTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        model_max_length=128,  # prompts are padded to this; the real LTX-2 pads to 1024
    )


def build_tiny_clip(target: Path, seed: int = 0) -> Path:
    """Save a tiny ``CLIPModel`` + ``CLIPProcessor`` (random weights, BPE tokenizer trained here) for tests of
    the CLIP scores; real runs name e.g. ``openai/clip-vit-base-patch32``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizerFast

    from ltx_pipelines.demo_data import COLOURS, MOTIONS, SHAPES

    torch.manual_seed(seed)
    model = CLIPModel(
        CLIPConfig(
            text_config={
                "vocab_size": 256,
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "max_position_embeddings": 77,
            },
            vision_config={
                "hidden_size": 32,
                "intermediate_size": 64,
                "num_hidden_layers": 2,
                "num_attention_heads": 2,
                "image_size": 32,
                "patch_size": 8,
            },
            projection_dim=16,
        )
    )
    special = ["<|startoftext|>", "<|endoftext|>"]
    bpe = Tokenizer(models.BPE(unk_token="<|endoftext|>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    words = [*COLOURS, *SHAPES, *MOTIONS, *TOKENIZER_STYLES]
    bpe.train_from_iterator(
        words * 4,
        trainers.BpeTrainer(
            vocab_size=256, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    tokenizer = CLIPTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
    )
    images = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})
    with atomic_dir(target) as tmp:
        model.save_pretrained(tmp, safe_serialization=True)
        CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(tmp)
    return target


def build_demo_ltx_video(target: Path) -> Path:
    """Save ``tiny-ltx-video`` pre-trained on the broad synthetic set (see :mod:`ltx_pipelines.models.pretrain`)."""
    from ltx_pipelines.models.pretrain import pretrain_demo_model

    return pretrain_demo_model(target).path


PRESETS: dict[str, Callable[[Path], Path]] = {
    "tiny-ltx-video": build_tiny_ltx_video,
    "demo-ltx-video": build_demo_ltx_video,
    "tiny-ltx2": build_tiny_ltx2,
    "tiny-clip": build_tiny_clip,
}
