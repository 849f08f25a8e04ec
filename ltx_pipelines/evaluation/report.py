"""The evaluation record: typed, saved as JSON beside the adapter, read back by the promotion gate."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from ltx_pipelines.atomic import write_json

REPORT_FILE = "evaluation.json"


class SetScores(BaseModel):
    """Mean denoising loss on one clip set (lower is better), overall and per σ."""

    model_config = ConfigDict(extra="forbid")

    clips: list[str]
    base: float
    adapter: float
    champion: float | None = None
    per_sigma: dict[str, dict[str, float]]

    @property
    def relative_change(self) -> float:
        """(adapter − base) / base: negative when the adapter denoises this set better than the base."""
        return (self.adapter - self.base) / self.base if self.base else 0.0

    @classmethod
    def from_losses(cls, clips: list[str], losses: dict[str, dict[float, float]]) -> SetScores:
        """From :func:`denoising_losses` output with keys ``base``, ``adapter`` and optionally ``champion``."""
        mean = {name: sum(table.values()) / len(table) for name, table in losses.items()}
        sigmas = next(iter(losses.values()))
        per_sigma = {f"{s:g}": {name: table[s] for name, table in losses.items()} for s in sigmas}
        return cls(
            clips=clips, base=mean["base"], adapter=mean["adapter"], champion=mean.get("champion"), per_sigma=per_sigma
        )


class SamplePair(BaseModel):
    """One prompt and seed rendered by the base and by the adapter."""

    prompt: str
    seed: int
    base: str
    adapter: str


class ClipScores(BaseModel):
    """CLIP text–video alignment (prompt vs. frames) and style similarity (frames vs. training clips)."""

    alignment_base: float
    alignment_adapter: float
    style_base: float
    style_adapter: float


class InContextScores(BaseModel):
    """IC-LoRA: generations conditioned on held-out references, compared with the held-out targets."""

    clips: list[str]
    psnr_base: float
    psnr_adapter: float
    ssim_base: float
    ssim_adapter: float
    latent_mse_base: float | None = None  # sampled vs. target latents (where the sampler is ours): VAE-independent
    latent_mse_adapter: float | None = None


class InstructionScores(BaseModel):
    """How often generations follow the prompt's colour and motion (the synthetic vocabulary's check)."""

    prompts: list[str]
    followed_base: float
    followed_adapter: float


class SubjectScores(BaseModel):
    """DreamBooth: CLIP identity consistency across trigger-word prompts, and leakage into prompts without it
    (similarity to the training clips; higher without the trigger word means the subject leaks)."""

    identity_base: float
    identity_adapter: float
    leakage_base: float
    leakage_adapter: float


class StyleScores(BaseModel):
    """Style strength without CLIP: colour-histogram intersection of samples with the training clips."""

    histogram_base: float
    histogram_adapter: float


class EvaluationReport(BaseModel):
    """Everything the evaluation measured for one adapter."""

    model_config = ConfigDict(extra="forbid")

    adapter_sha256: str
    heldout: SetScores
    prior: SetScores | None = None
    champion_version: str | None = None
    samples: list[SamplePair] = []
    contact_sheet: str | None = None
    clip: ClipScores | None = None
    style: StyleScores | None = None
    in_context: InContextScores | None = None
    instructions: InstructionScores | None = None
    subject: SubjectScores | None = None
    spec: dict

    @property
    def relative_improvement(self) -> float:
        """(base − adapter) / base on the held-out clips: positive when the adapter adapted."""
        return -self.heldout.relative_change

    @property
    def prior_regression(self) -> float | None:
        """Relative rise of the prior-set loss over the base (forgetting); None without a prior set."""
        return self.prior.relative_change if self.prior else None

    def metrics(self) -> dict[str, float]:
        """Flat numbers for MLflow and Dagster metadata."""
        out = {
            "eval/base_loss": self.heldout.base,
            "eval/adapter_loss": self.heldout.adapter,
            "eval/relative_improvement": self.relative_improvement,
        }
        if self.heldout.champion is not None:
            out["eval/champion_loss"] = self.heldout.champion
        if self.prior is not None:
            out |= {
                "eval/prior_base_loss": self.prior.base,
                "eval/prior_adapter_loss": self.prior.adapter,
                "eval/prior_regression": self.prior.relative_change,
            }
        for name in ("clip", "style", "in_context", "instructions", "subject"):
            scores = getattr(self, name)
            if scores is not None:
                out |= {f"eval/{name}_{k}": v for k, v in scores.model_dump().items() if isinstance(v, float)}
        return out

    def save(self, run_dir: str | Path) -> Path:
        return write_json(Path(run_dir) / REPORT_FILE, self.model_dump())

    @classmethod
    def load(cls, path: str | Path) -> EvaluationReport:
        return cls.model_validate(json.loads(Path(path).read_text()))
