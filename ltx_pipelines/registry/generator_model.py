"""The MLflow pyfunc model of a registered adapter, logged from code (no pickle).

``mlflow.pyfunc.load_model("models:/NAME@champion")`` loads the base pipeline named in the recipe with the
adapter; ``predict`` takes prompts and writes one MP4 per prompt.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel


class AdapterGenerator(PythonModel):
    """Prompts in, videos out: a DataFrame with ``prompt`` and ``video_path`` columns."""

    def load_context(self, context) -> None:
        from ltx_pipelines.generation import GenerationSettings, Generator

        recipe = json.loads(Path(context.artifacts["recipe"]).read_text())
        self.recipe = recipe
        self.generator = Generator.load(
            recipe["base_model"],
            context.artifacts["adapter"],
            GenerationSettings(**recipe["generation"]),
            base_model_path=recipe.get("base_model_path"),
            revision=recipe.get("base_model_revision"),
        )

    def predict(self, context, model_input, params: dict | None = None) -> pd.DataFrame:
        from ltx_pipelines.generation import save_clip

        params = params or {}
        prompts = _prompts(model_input)
        out_dir = Path(params.get("output_dir") or tempfile.mkdtemp(prefix="ltx-generate-"))
        seed = int(params.get("seed", self.generator.settings.seed))
        if "steps" in params:
            self.generator.settings = replace(self.generator.settings, steps=int(params["steps"]))
        rows = []
        for index, prompt in enumerate(prompts):
            clip = self.generator(prompt, seed=seed + index, adapter_scale=float(params.get("adapter_scale", 1.0)))
            path = save_clip(out_dir / f"sample_{index:03d}.mp4", clip, self.generator.settings.frame_rate)
            rows.append({"prompt": prompt, "video_path": str(path)})
        return pd.DataFrame(rows)


def _prompts(model_input) -> list[str]:
    if isinstance(model_input, pd.DataFrame):
        column = "prompt" if "prompt" in model_input.columns else model_input.columns[0]
        return [str(p) for p in model_input[column]]
    if isinstance(model_input, str):
        return [model_input]
    return [str(p) for p in model_input]


mlflow.models.set_model(AdapterGenerator())
