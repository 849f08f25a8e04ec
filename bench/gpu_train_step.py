"""LTX-Video 2B LoRA training step on a GPU: seconds per step, peak memory and MFU.

The transformer is LTX-Video 2B's architecture (28 layers, 32 heads × 64, caption 4096) with random weights
unless ``--model`` names a diffusers folder or hub id; LoRA rank 128 on the attention projections; bf16
autocast, gradient checkpointing, AdamW; one clip of 768×448×89 (4032 tokens) with 128 text tokens per step,
through the same objective the trainer uses. FLOPs are counted with torch's FlopCounterMode on one step.

    python -m bench.gpu_train_step                # on a CUDA machine
    python -m bench.gpu_train_step --smoke        # a tiny configuration on CPU, to check the script runs
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ltx_pipelines.config import LoraSpec
from ltx_pipelines.models.family import VIDEO, LatentGeometry
from ltx_pipelines.models.ltx_video import LTXVideoFamily
from ltx_pipelines.training.adapters import add_adapter
from ltx_pipelines.training.objective import flow_matching_loss

LTX_VIDEO_2B = {
    "in_channels": 128,
    "out_channels": 128,
    "num_attention_heads": 32,
    "attention_head_dim": 64,
    "cross_attention_dim": 2048,
    "num_layers": 28,
    "caption_channels": 4096,
}
SMOKE = {
    "in_channels": 8,
    "out_channels": 8,
    "num_attention_heads": 2,
    "attention_head_dim": 8,
    "cross_attention_dim": 16,
    "num_layers": 1,
    "caption_channels": 32,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="diffusers folder or hub id (default: 2B architecture, random weights)")
    parser.add_argument("--resolution", default="768x448x89")
    parser.add_argument("--rank", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--peak-tflops", type=float, default=989.0, help="dense bf16 peak of the GPU (H100/H200 SXM)")
    parser.add_argument("--no-checkpointing", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="tiny config on CPU, 64x64x9")
    args = parser.parse_args()

    device = torch.device("cpu" if args.smoke else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device: run this on a GPU machine, or pass --smoke to check the script on CPU")
    width, height, frames = map(int, ("64x64x9" if args.smoke else args.resolution).split("x"))
    transformer = _transformer(args, device)
    if not args.no_checkpointing:
        transformer.enable_gradient_checkpointing()
    params = add_adapter(transformer, LoraSpec(rank=args.rank, alpha=args.rank))
    transformer.train()
    optimizer = torch.optim.AdamW(params, lr=1e-4)

    geometry = LatentGeometry(temporal=8, spatial=32)
    latent_frames, latent_h, latent_w = geometry.latent_shape(frames, height, width)
    channels, caption = transformer.config.in_channels, transformer.config.caption_channels
    batch = {
        VIDEO: torch.randn(1, channels, latent_frames, latent_h, latent_w, device=device),
        "prompt_embeds": torch.randn(1, 128, caption, device=device),
        "prompt_attention_mask": torch.ones(1, 128, dtype=torch.long, device=device),
    }
    tokens = latent_frames * latent_h * latent_w
    family = LTXVideoFamily()

    def step(seed: int) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = flow_matching_loss(family, transformer, geometry, batch, 24.0, [seed]).total.mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        step(0)
    flops = counter.get_total_flops()
    for seed in range(args.warmup):
        step(seed + 1)
    _sync(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    for seed in range(args.steps):
        start = time.perf_counter()
        step(seed + 100)
        _sync(device)
        times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    peak = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else float("nan")
    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu (smoke)"
    print(
        f"{name}: {width}x{height}x{frames} ({tokens} tokens), LoRA rank {args.rank}, "
        f"checkpointing {'off' if args.no_checkpointing else 'on'}, bf16 autocast"
    )
    print(
        f"  {seconds:.3f} s/step (median of {args.steps}), peak memory {peak:.1f} GiB, "
        f"{flops / 1e12:.1f} TFLOP/step, MFU {flops / seconds / (args.peak_tflops * 1e12):.1%}"
    )


def _transformer(args, device: torch.device) -> torch.nn.Module:
    from diffusers import LTXVideoTransformer3DModel

    if args.model:
        return LTXVideoTransformer3DModel.from_pretrained(args.model, subfolder="transformer").to(device)
    torch.manual_seed(0)
    return LTXVideoTransformer3DModel(**(SMOKE if args.smoke else LTX_VIDEO_2B)).to(device)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


if __name__ == "__main__":
    main()
