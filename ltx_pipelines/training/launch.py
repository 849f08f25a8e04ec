"""Run one training job from its JSON description; under ``torchrun`` the ranks train it data-parallel.

torchrun --standalone --nproc_per_node 2 -m ltx_pipelines.training.launch RUN_DIR/job.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from ltx_pipelines.atomic import write_json
from ltx_pipelines.config import LoraSpec, MethodSpec, TrainingSpec
from ltx_pipelines.encoding import LatentRecord
from ltx_pipelines.models.resolve import ResolvedModel
from ltx_pipelines.training.distributed import DataParallel
from ltx_pipelines.training.loop import StepLog, TrainingJob, TrainingResult, completed_result, train_lora


class StopRequested(Exception):
    """Raised after ``--stop-after`` steps (to test resuming from a checkpoint)."""


def save_job(job: TrainingJob, path: Path) -> Path:
    """Write ``job`` as JSON (what ``launch`` reads)."""
    return write_json(
        path,
        {
            "model": job.model.to_dict(),
            "samples": [s.to_dict() for s in job.samples],
            "lora": job.lora.model_dump(),
            "training": job.training.model_dump(),
            "run_dir": str(job.run_dir),
            "frame_rate": job.frame_rate,
            "device": str(job.device),
            "adapter_metadata": job.adapter_metadata,
            "method": job.method.model_dump(),
            "prior": [s.to_dict() for s in job.prior],
            "prior_weight": job.prior_weight,
        },
    )


def load_job(path: Path) -> TrainingJob:
    """The job written by :func:`save_job`."""
    data = json.loads(Path(path).read_text())
    return TrainingJob(
        model=ResolvedModel(**data["model"]),
        samples=[LatentRecord.from_dict(s) for s in data["samples"]],
        lora=LoraSpec.model_validate(data["lora"]),
        training=TrainingSpec.model_validate(data["training"]),
        run_dir=Path(data["run_dir"]),
        frame_rate=data["frame_rate"],
        device=torch.device(data["device"]),
        adapter_metadata=data["adapter_metadata"],
        method=MethodSpec.model_validate(data["method"]),
        prior=[LatentRecord.from_dict(s) for s in data["prior"]],
        prior_weight=data["prior_weight"],
    )


def run_torchrun(
    job: TrainingJob, processes: int, on_line: Callable[[str], None] = print, extra: Sequence[str] = ()
) -> TrainingResult:
    """Train ``job`` with ``processes`` data-parallel ranks on this machine; output lines go to ``on_line``.

    ``extra`` arguments go to the launcher (e.g. ``--stop-after N``); a failed run raises with the output's tail.
    """
    spec = save_job(job, job.run_dir / "job.json")
    launcher = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
    command = [sys.executable, *launcher, "-m", "ltx_pipelines.training.launch", str(spec), *extra]
    tail: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as process:
        for line in process.stdout:
            on_line(line.rstrip())
            tail = [*tail[-40:], line]
    if process.returncode != 0:
        raise RuntimeError(f"torchrun with {processes} processes failed ({process.returncode}):\n{''.join(tail)}")
    result = completed_result(job.run_dir)
    if result is None:
        raise RuntimeError(f"torchrun finished but {job.run_dir} holds no result")
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("job", type=Path)
    parser.add_argument("--log-every", type=int, default=10)
    parser.add_argument("--stop-after", type=int, help="stop (as if killed) after this many steps")
    args = parser.parse_args(argv)
    job = load_job(args.job)
    parallel = DataParallel.from_env()

    def on_step(log: StepLog) -> None:
        if parallel.is_main and (log.step % args.log_every == 0 or log.step == log.total):
            print(
                f"step {log.step}/{log.total} loss {log.loss:.4f} lr {log.lr:.2e} "
                f"grad_norm {log.grad_norm:.3f} {log.steps_per_second:.1f} it/s",
                flush=True,
            )
        if args.stop_after is not None and log.step >= args.stop_after:
            raise StopRequested

    try:
        result = train_lora(job, on_step=on_step, parallel=parallel)
    except StopRequested:
        print(f"rank {parallel.rank}: stopped after step {args.stop_after}", flush=True)
        return 3
    finally:
        parallel.stop()
    if parallel.is_main:
        print(f"adapter {result.adapter.diffusers_file} (world size {parallel.world_size})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
