"""The LoRA training loop, top to bottom: data, model, optimizer, steps, checkpoints, adapter.

Every random draw of sample i in micro-batch m comes from a generator seeded by (seed, m, i), so a run killed at
any point and resumed from its last checkpoint takes exactly the path of an uninterrupted run, and a
data-parallel run takes the path of a one-process run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from ltx_pipelines.atomic import write_bytes, write_json
from ltx_pipelines.compute import autocast, free_memory, system_metrics
from ltx_pipelines.config import LoraSpec, MethodSpec, TrainingSpec
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.models.family import GenerationSettings, family_for
from ltx_pipelines.models.resolve import ResolvedModel
from ltx_pipelines.plots import loss_curve_png
from ltx_pipelines.training.adapters import AdapterFiles, add_adapter, save_adapter
from ltx_pipelines.training.checkpoint import list_checkpoints, load_checkpoint, save_checkpoint
from ltx_pipelines.training.distributed import DataParallel
from ltx_pipelines.training.objective import collate, flow_matching_loss
from ltx_pipelines.training.schedule import BatchSchedule, derive_seed
from ltx_pipelines.training.validation import ValidationSampler

RESULT_FILE = "result.json"
CODE_VERSION = "train-1"


class TrainingDivergedError(RuntimeError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass(frozen=True)
class TrainingJob:
    """Everything one training run needs; ``run_dir`` is where checkpoints and the adapter go."""

    model: ResolvedModel
    samples: Sequence[LatentRecord]
    lora: LoraSpec
    training: TrainingSpec
    run_dir: Path
    frame_rate: float
    device: torch.device
    adapter_metadata: dict = field(default_factory=dict)
    method: MethodSpec = field(default_factory=MethodSpec)
    prior: Sequence[LatentRecord] = ()  # DreamBooth prior preservation: generated class clips
    prior_weight: float = 0.0

    @classmethod
    def plan(
        cls,
        runs_dir: Path,
        dataset: str,
        samples: Sequence[LatentRecord],
        model: ResolvedModel,
        lora: LoraSpec,
        training: TrainingSpec,
        frame_rate: float,
        device: torch.device,
        adapter_metadata: dict | None = None,
        method: MethodSpec | None = None,
        prior: Sequence[LatentRecord] = (),
        prior_weight: float = 0.0,
    ) -> TrainingJob:
        """The job for ``samples`` in ``runs_dir/<dataset>-<run key>``: same inputs and settings, same folder."""
        metadata = {"dataset": dataset, **(adapter_metadata or {})}
        job = cls(
            model,
            samples,
            lora,
            training,
            Path(),
            frame_rate,
            device,
            metadata,
            method or MethodSpec(),
            prior,
            prior_weight,
        )
        return replace(job, run_dir=runs_dir / f"{dataset}-{job.run_key}")

    @property
    def config_hash(self) -> str:
        return config_hash(self.lora, self.training, self.frame_rate, self.method, self.prior_weight)

    @property
    def run_key(self) -> str:
        return run_key([*self.samples, *self.prior], self.model, self.config_hash)


@dataclass(frozen=True)
class StepLog:
    """One optimizer step, for progress bars and logs."""

    step: int
    total: int
    loss: float
    lr: float
    grad_norm: float
    steps_per_second: float


@dataclass
class TrainingResult:
    """The adapter a run produced, its loss history and how it got there."""

    adapter: AdapterFiles
    history: list[dict]  # per step: step, loss, lr, grad_norm, step_seconds (+ system/* every 10 steps)
    steps: int
    resumed_from: int
    seconds: float
    loss_curve: str

    @property
    def losses(self) -> list[float]:
        return [entry["loss"] for entry in self.history]

    def to_dict(self) -> dict:
        return {**asdict(self), "adapter": self.adapter.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> TrainingResult:
        return cls(**{**data, "adapter": AdapterFiles(**data["adapter"])})


def config_hash(
    lora: LoraSpec,
    training: TrainingSpec,
    frame_rate: float,
    method: MethodSpec | None = None,
    prior_weight: float = 0.0,
) -> str:
    """The hash of every setting that shapes the adapter."""
    method = method or MethodSpec()
    extra = [method.model_dump(), prior_weight] if method != MethodSpec() or prior_weight else []
    return cache_key(training.model_dump(), lora.model_dump(), frame_rate, *extra)


def run_key(samples: Sequence[LatentRecord], model: ResolvedModel, settings_hash: str) -> str:
    """The content address of a training run: its samples, settings, base model and the loop's code."""
    return cache_key([(s.latent_key, s.text_key) for s in samples], settings_hash, model.fingerprint, CODE_VERSION)


def completed_result(run_dir: Path) -> TrainingResult | None:
    """The result of a run that already finished in ``run_dir``, if any."""
    import json

    path = run_dir / RESULT_FILE
    if not path.exists():
        return None
    return TrainingResult.from_dict(json.loads(path.read_text()))


def train_lora(
    job: TrainingJob, on_step: Callable[[StepLog], None] | None = None, parallel: DataParallel | None = None
) -> TrainingResult:
    """Train a LoRA adapter on cached latents, resuming from the newest checkpoint in ``job.run_dir``.

    Under torchrun (``parallel`` from the environment by default) each rank trains on its share of every
    global batch of ``training.batch_size`` clips; the result equals a one-process run.
    """
    parallel = parallel or DataParallel.from_env()
    device = parallel.device(job.device)
    parallel.start(device)
    spec = job.training
    family = family_for(job.model.pipeline_class)
    geometry = family.geometry(job.model.path)
    checkpoints = job.run_dir / "checkpoints"

    # Model: frozen base transformer + trainable LoRA (initialised from the seed).
    torch.manual_seed(derive_seed(spec.seed, "init"))
    transformer = family.load_transformer(job.model.path, device, torch.float32)
    if spec.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    params = add_adapter(transformer, job.lora)
    transformer.train()

    optimizer = _optimizer(params, spec, device)
    scheduler = _warmup_cosine(optimizer, spec.warmup_steps, spec.steps)
    history: list[dict] = []
    start = 0
    if existing := list_checkpoints(checkpoints):
        state = load_checkpoint(existing[-1], transformer, optimizer, scheduler)
        start, history = state.step, state.history

    schedule = BatchSchedule([s.bucket for s in job.samples], spec.batch_size, spec.seed)
    sampler = ValidationSampler(family, job.model.path, spec.validation, _sample_settings(job, geometry))
    began = time.perf_counter()
    for step in range(start, spec.steps):
        tick = time.perf_counter()
        step_loss = 0.0
        for micro in range(spec.gradient_accumulation):
            micro_step = step * spec.gradient_accumulation + micro
            step_loss += _accumulate(job, family, geometry, transformer, params, schedule, micro_step, device, parallel)
        step_loss = parallel.sum(step_loss, device)
        if not math.isfinite(step_loss):
            last = list_checkpoints(checkpoints)
            kept = f"the last good checkpoint is {last[-1]}" if last else "no checkpoint was written yet"
            raise TrainingDivergedError(f"loss became {step_loss} at step {step + 1}; {kept}")
        parallel.sum_gradients(params)
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, spec.max_grad_norm))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        done = step + 1
        elapsed = time.perf_counter() - tick
        lr = scheduler.get_last_lr()[0]
        entry = {"step": done, "loss": step_loss, "lr": lr, "grad_norm": grad_norm, "step_seconds": elapsed}
        history.append({**entry, **(system_metrics(device) if done % 10 == 0 or done == spec.steps else {})})
        if parallel.is_main and (done % spec.checkpoint_every == 0 or done == spec.steps):
            save_checkpoint(checkpoints, done, transformer, optimizer, scheduler, history, spec.keep_checkpoints)
        if parallel.is_main and sampler.due(done):
            sampler.render(transformer, done, job.run_dir / "samples")
        if on_step:
            on_step(StepLog(done, spec.steps, step_loss, lr, grad_norm, 1.0 / max(elapsed, 1e-9)))

    if not parallel.is_main:  # rank 0 writes the adapter; the others return what it wrote
        parallel.barrier()
        del transformer, optimizer
        free_memory()
        return completed_result(job.run_dir)
    adapter = save_adapter(
        job.run_dir / "adapter",
        transformer,
        _pipeline_class(job.model.pipeline_class),
        job.lora,
        {
            **job.adapter_metadata,
            "steps": spec.steps,
            "adapter_type": job.lora.type,
            "rank": job.lora.rank,
            "alpha": job.lora.alpha,
            "target_modules": job.lora.modules,
            "base_model": job.model.model_id,
            "base_model_revision": job.model.revision,
        },
    )
    curve = write_bytes(job.run_dir / "loss_curve.png", loss_curve_png([h["loss"] for h in history]))
    result = TrainingResult(adapter, history, spec.steps, start, time.perf_counter() - began, str(curve))
    write_json(job.run_dir / RESULT_FILE, result.to_dict())
    parallel.barrier()
    del transformer, optimizer
    free_memory()
    return result


def _accumulate(job, family, geometry, transformer, params, schedule, micro_step, device, parallel) -> float:
    """Forward + backward of this rank's share of one global micro-batch; returns its share of the mean loss.

    Sample i of the micro-batch draws its noise from seed (seed, micro step, i) whichever rank it lands on,
    and each rank scales its summed losses by 1/global batch, so summing gradients over ranks gives the
    gradient of the whole batch's mean loss.
    """
    spec = job.training
    indices = schedule.batch(micro_step)
    positions = parallel.shard(range(len(indices)))
    scale = 1.0 / (len(indices) * spec.gradient_accumulation)
    torch.manual_seed(derive_seed(spec.seed, "dropout", micro_step, parallel.rank))
    if not positions:  # more ranks than clips in this batch: take part in the all-reduce with zero gradients
        (sum(p.sum() for p in params) * 0.0).backward()
        return 0.0
    losses = _losses(
        job,
        family,
        geometry,
        transformer,
        [job.samples[indices[i]] for i in positions],
        [derive_seed(spec.seed, "sample", micro_step, i) for i in positions],
        device,
    )
    if job.prior and job.prior_weight:  # DreamBooth: the same number of class clips, weighted
        prior = [job.prior[(micro_step * len(indices) + i) % len(job.prior)] for i in positions]
        seeds = [derive_seed(spec.seed, "prior", micro_step, i) for i in positions]
        losses = losses + job.prior_weight * _losses(job, family, geometry, transformer, prior, seeds, device)
    (losses.sum() * scale).backward()
    return float(losses.detach().sum()) * scale


def _losses(job, family, geometry, transformer, samples, seeds, device) -> torch.Tensor:
    """Per-sample losses of ``samples`` with the job's strategy."""
    batch = collate(samples, family, geometry, job.frame_rate, device)
    with autocast(device, job.training.mixed_precision):
        return flow_matching_loss(
            family,
            transformer,
            geometry,
            batch,
            job.frame_rate,
            seeds,
            first_frame_p=job.method.first_frame_p(job.training),
            audio_weight=job.training.audio_loss_weight,
            modalities=job.method.modalities,
        ).total


def _optimizer(params: list[torch.nn.Parameter], spec: TrainingSpec, device: torch.device) -> torch.optim.Optimizer:
    """AdamW, or bitsandbytes' 8-bit AdamW (CUDA only) when the recipe asks for ``adamw8bit``."""
    if spec.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=spec.learning_rate, weight_decay=spec.weight_decay)
    if device.type != "cuda":
        raise ValueError(f"optimizer adamw8bit needs a CUDA device (bitsandbytes); this run is on {device}")
    try:
        import bitsandbytes
    except ImportError as error:
        raise ValueError("optimizer adamw8bit needs bitsandbytes: pip install bitsandbytes") from error
    return bitsandbytes.optim.AdamW8bit(params, lr=spec.learning_rate, weight_decay=spec.weight_decay)


def _sample_settings(job: TrainingJob, geometry) -> GenerationSettings:
    """Validation clips at the size of the first training bucket."""
    _, frames, height, width = job.samples[0].latent_shape
    return GenerationSettings(
        width=width * geometry.spatial,
        height=height * geometry.spatial,
        frames=geometry.pixel_frames(frames),
        frame_rate=job.frame_rate,
        steps=job.training.validation.inference_steps,
    )


def _warmup_cosine(optimizer: torch.optim.Optimizer, warmup: int, total: int):
    from diffusers.optimization import get_cosine_schedule_with_warmup

    return get_cosine_schedule_with_warmup(optimizer, num_warmup_steps=min(warmup, total), num_training_steps=total)


def _pipeline_class(name: str) -> type:
    import diffusers

    return getattr(diffusers, name)
