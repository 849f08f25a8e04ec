"""The promotion gate: does a new adapter replace the champion?"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ltx_pipelines.evaluation.report import EvaluationReport


@dataclass(frozen=True)
class PromotionDecision:
    """Whether to move ``champion`` to the new version, and why (with the numbers)."""

    promote: bool
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


def decide(report: EvaluationReport, prior_tolerance: float) -> PromotionDecision:
    """Promote when the adapter beats the base on held-out clips, beats the champion scored on the same clips
    (or there is none), and does not raise the prior-set loss over the base by more than ``prior_tolerance``."""
    held = report.heldout
    if held.adapter >= held.base:
        return PromotionDecision(False, f"held-out loss {held.adapter:.4f} does not beat the base's {held.base:.4f}")
    regression = report.prior_regression
    if regression is not None and regression > prior_tolerance:
        return PromotionDecision(
            False, f"prior-set loss rose {regression:+.1%} over the base (tolerance {prior_tolerance:.1%})"
        )
    if report.champion_version is None or held.champion is None:
        return PromotionDecision(True, f"no champion yet; held-out loss {held.adapter:.4f} < base {held.base:.4f}")
    if held.adapter < held.champion:
        return PromotionDecision(
            True, f"held-out loss {held.adapter:.4f} beats champion v{report.champion_version}'s {held.champion:.4f}"
        )
    return PromotionDecision(
        False,
        f"held-out loss {held.adapter:.4f} does not beat champion v{report.champion_version}'s {held.champion:.4f}",
    )
