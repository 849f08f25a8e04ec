"""The demo base model: the tiny LTX-Video pre-trained on a broad synthetic set, so that a LoRA has a base to adapt.

A random-weight transformer denoises nothing in particular, so fine-tuning it can only show a loss going down.
``demo-ltx-video`` is ``tiny-ltx-video`` with every transformer weight trained (our own loop and rectified-flow
objective, a ``full`` fine-tune) on synthetic clips of every shape, colour and motion in the styles other than the
demo's target: flat shapes on soft and on dark backgrounds, thin outlines on paper. It learns what shapes on
backgrounds look like and reads the style from the caption. Neon is left out, as a real base has not seen your
style: the neon LoRA then has something to learn (dark grid, glow), and the demo's prior set (fresh clips of these
styles) measures what the base knew before. The clips go through the real stages (scan, frames, captions,
latents) in a scratch home, so the base sees what a dataset of such clips gives. About 45 s on two CPU cores.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from ltx_pipelines.atomic import atomic_dir, write_json
from ltx_pipelines.demo_data import DEMO_CLIP

PRETRAIN_STYLES = ("plain", "outline", "night")


@dataclass(frozen=True)
class PretrainSpec:
    """What the demo base is pre-trained on and for how long, at the demo's clip size (32×32, 9 frames)."""

    steps: int = 1200
    clips_per_style: int = 72
    styles: tuple[str, ...] = PRETRAIN_STYLES
    batch_size: int = 8
    learning_rate: float = 2e-3
    width: int = DEMO_CLIP["width"]
    height: int = DEMO_CLIP["height"]
    frames: int = DEMO_CLIP["frames"]
    seed: int = 0


@dataclass(frozen=True)
class PretrainResult:
    """The saved model folder and how pre-training went."""

    path: Path
    steps: int
    clips: int
    first_loss: float
    final_loss: float
    seconds: float


def pretrain_demo_model(
    target: str | Path,
    spec: PretrainSpec = PretrainSpec(),
    on_step: Callable | None = None,
    progress: bool = True,
) -> PretrainResult:
    """Build ``tiny-ltx-video``, pre-train its transformer on ``spec``'s synthetic clips (CPU, seeded) and save
    the whole pipeline to ``target`` (atomically), loadable with ``from_pretrained`` like any LTX-Video folder."""
    from tqdm import tqdm

    from ltx_pipelines.config import Bucket, DatasetSpec, LoraSpec, Recipe, TrainingSpec
    from ltx_pipelines.demo_data import write_dataset
    from ltx_pipelines.home import Home
    from ltx_pipelines.models.presets import PRESET_VERSION, build_tiny_ltx_video
    from ltx_pipelines.models.resolve import resolve_model
    from ltx_pipelines.training.loop import TrainingJob, train_lora
    from ltx_pipelines.workflow import prepare_clip_set

    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    device = torch.device("cpu")  # tiny: the CPU is enough (seeded; x264 may encode the clips slightly differently)
    began = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix=f".{target.name}.", suffix=".pretrain", dir=target.parent) as scratch:
        scratch = Path(scratch)
        home = Home(scratch / "home").ensure()
        init = resolve_model(str(build_tiny_ltx_video(scratch / "init", seed=spec.seed)), home)
        clips = scratch / "clips"
        for index, style in enumerate(spec.styles):
            size = {"width": spec.width, "height": spec.height, "frames": spec.frames}
            write_dataset(clips / style, spec.clips_per_style, style, seed=spec.seed + index, **size)
        bucket = Bucket(width=spec.width, height=spec.height, frames=spec.frames)
        recipe = Recipe(dataset=DatasetSpec(buckets=[bucket], holdout_fraction=0.0))
        samples = prepare_clip_set(clips, recipe, init, home, device).samples
        training = TrainingSpec(
            steps=spec.steps,
            batch_size=spec.batch_size,
            learning_rate=spec.learning_rate,
            warmup_steps=min(20, spec.steps // 10),
            checkpoint_every=spec.steps,
            keep_checkpoints=1,
            seed=spec.seed,
        )
        job = TrainingJob.plan(home.runs, "pretrain", samples, init, LoraSpec(type="full"), training, 24.0, device)
        bar = tqdm(
            total=spec.steps, desc="pre-training demo-ltx-video", unit="step", disable=None if progress else True
        )

        def step(log) -> None:
            bar.update(log.step - bar.n)
            bar.set_postfix(loss=f"{log.loss:.4f}", refresh=False)
            if on_step:
                on_step(log)

        result = train_lora(job, on_step=step)
        bar.close()
        with atomic_dir(target) as tmp:
            shutil.copytree(init.path, tmp, dirs_exist_ok=True)
            shutil.rmtree(tmp / "transformer")
            shutil.copytree(Path(result.adapter.directory) / "transformer", tmp / "transformer")
            (tmp / "ltx_pipelines_preset.txt").write_text(
                f"demo-ltx-video v{PRESET_VERSION}: tiny-ltx-video seed {spec.seed} pre-trained {spec.steps} steps "
                f"on {len(samples)} clips ({', '.join(spec.styles)})\n"
            )
            write_json(tmp / "pretraining.json", {"spec": spec.__dict__, "losses": result.losses})
    losses = result.losses
    done = PretrainResult(target, spec.steps, len(samples), losses[0], losses[-1], time.perf_counter() - began)
    if progress:
        tqdm.write(
            f"pre-trained {target.name}: {done.steps} steps on {done.clips} clips in {done.seconds:.0f} s, "
            f"loss {done.first_loss:.3f} -> {done.final_loss:.3f}"
        )
    return done
