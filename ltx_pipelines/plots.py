"""Charts as PNG bytes (matplotlib, headless)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def loss_curve_png(losses: Sequence[float], title: str = "training loss", window: int = 10) -> bytes:
    """A loss-per-step plot with a moving average, as PNG bytes."""
    figure, axis = plt.subplots(figsize=(6, 3.2), dpi=100)
    steps = list(range(1, len(losses) + 1))
    axis.plot(steps, losses, color="#9bb7d4", linewidth=0.8, label="loss")
    if len(losses) >= window:
        smooth = [sum(losses[i - window : i]) / window for i in range(window, len(losses) + 1)]
        axis.plot(steps[window - 1 :], smooth, color="#1f4e79", linewidth=1.6, label=f"mean of {window}")
    axis.set_xlabel("step")
    axis.set_ylabel("loss")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper right")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return buffer.getvalue()
