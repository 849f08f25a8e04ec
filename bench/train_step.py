"""Training step time: our loop (``train_lora``) against a bare PyTorch loop on the same cached latents.

Both run the same transformer + LoRA, batch size, forward, MSE backward and AdamW step; the bare loop holds
the batch in memory and does nothing else (no schedule, per-step seeding, disk reads, clipping, logging).
Reported: median seconds per step after warm-up, and the ratio ours / bare (target ≤ 1.1).

    python -m bench.train_step [--steps 60] [--bucket 64x64x17] [--clips 12]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from ltx_pipelines.captioning import build_captions
from ltx_pipelines.clips import plan_clips
from ltx_pipelines.config import Bucket, DatasetSpec, LoraSpec, TrainingSpec
from ltx_pipelines.dataset import scan_dataset
from ltx_pipelines.demo_data import write_dataset
from ltx_pipelines.encoding import encode_dataset, load_sample
from ltx_pipelines.frames import extract_frames
from ltx_pipelines.home import Home
from ltx_pipelines.models import resolve_model
from ltx_pipelines.models.family import VIDEO, family_for
from ltx_pipelines.training.adapters import add_adapter
from ltx_pipelines.training.flow import sample_sigmas
from ltx_pipelines.training.loop import TrainingJob, train_lora


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--bucket", default="64x64x17")
    parser.add_argument("--clips", type=int, default=12)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--model", default="tiny-ltx-video")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    width, height, frames = map(int, args.bucket.split("x"))
    torch.set_num_threads(max(1, torch.get_num_threads()))

    with tempfile.TemporaryDirectory() as tmp:
        home = Home(Path(tmp) / "home").ensure()
        clips = Path(tmp) / "clips"
        write_dataset(clips, count=args.clips, width=max(96, width), height=max(64, height), frames=frames + 8)
        spec = DatasetSpec(buckets=[Bucket(width=width, height=height, frames=frames)])
        windows = plan_clips(scan_dataset(clips, spec).clips, spec).clips
        extracted = extract_frames(windows, spec, home.cache("frames"))
        given = {w.clip_id: w.caption for w in windows}
        captions = {c.clip_id: c for c in build_captions(extracted.clips, given).captions}
        model = resolve_model(args.model, home)
        device = torch.device("cpu")
        records = encode_dataset(
            extracted.clips, captions, model, home.cache("latents"), home.cache("text"), device
        ).records
        lora = LoraSpec(rank=16, alpha=16)
        total = args.warmup + args.steps
        training = TrainingSpec(steps=total, batch_size=args.batch_size, checkpoint_every=10**9, warmup_steps=0)

        # Alternate the two loops and keep each one's best median: other load on the machine hits both alike.
        ours_medians, bare_medians = [], []
        for round_ in range(args.rounds):
            bare_medians.append(statistics.median(_bare_loop(model, records, lora, training, args.warmup, args.steps)))
            ours_medians.append(statistics.median(_our_loop(home, model, records, lora, training, args.warmup, round_)))

    ours_median, bare_median = min(ours_medians), min(bare_medians)
    print(
        f"model {args.model}, bucket {args.bucket}, batch {args.batch_size}, "
        f"{args.steps} timed steps x {args.rounds} rounds, {torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    print(f"ours: {ours_median * 1000:.1f} ms/step (median)   bare PyTorch: {bare_median * 1000:.1f} ms/step")
    print(f"ratio ours/bare: {ours_median / bare_median:.3f}  (target <= 1.1)")


def _our_loop(home, model, records, lora, training, warmup: int, round_: int) -> list[float]:
    """Seconds per step of ``train_lora`` (a fresh run folder each round), warm-up steps dropped."""
    times: list[float] = []
    last = [0.0]

    def on_step(log) -> None:
        now = time.perf_counter()
        if log.step > warmup:
            times.append(now - last[0])
        last[0] = now

    job = TrainingJob.plan(
        home.runs / f"round-{round_}", "bench", records, model, lora, training, 24.0, torch.device("cpu")
    )
    last[0] = time.perf_counter()
    train_lora(job, on_step=on_step)
    return times


def _bare_loop(model, records, lora: LoraSpec, training: TrainingSpec, warmup: int, steps: int) -> list[float]:
    """The minimum: batch already in memory, fixed σ draw, forward, MSE, backward, AdamW."""
    family = family_for(model.pipeline_class)
    geometry = family.geometry(model.path)
    torch.manual_seed(0)
    transformer = family.load_transformer(model.path, torch.device("cpu"), torch.float32)
    params = add_adapter(transformer, lora)
    transformer.train()
    optimizer = torch.optim.AdamW(params, lr=training.learning_rate)
    loaded = [load_sample(r) for r in records[: training.batch_size]]
    batch = {k: torch.stack([s[k] for s in loaded]) for k in loaded[0]}
    clean = batch[VIDEO]
    size, _, frames, height, width = clean.shape
    generator = torch.Generator().manual_seed(0)
    times = []
    for step in range(warmup + steps):
        start = time.perf_counter()
        sigma = sample_sigmas(size, frames * height * width, generator)
        noise = torch.randn(clean.shape, generator=generator)
        sigma_frames = sigma[:, None].repeat(1, frames)
        noisy = (1 - sigma[:, None, None, None, None]) * clean + sigma[:, None, None, None, None] * noise
        prediction = family.predict(transformer, geometry, {VIDEO: noisy}, {VIDEO: sigma_frames}, batch, 24.0)
        loss = torch.nn.functional.mse_loss(prediction[VIDEO], noise - clean)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if step >= warmup:
            times.append(time.perf_counter() - start)
    return times


if __name__ == "__main__":
    main()
