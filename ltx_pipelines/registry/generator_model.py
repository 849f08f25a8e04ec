"""The MLflow pyfunc model of a registered adapter, logged from code (no pickle).

``mlflow.pyfunc.load_model("models:/NAME@champion")`` loads the base pipeline named in the recipe with the
adapter; ``predict`` takes prompts and writes one MP4 per prompt (with sound for LTX-2). Params: ``output_dir``,
``seed``, ``steps``, ``adapter_scale``; ``image_path`` (image-to-video: the first frame) and ``reference_path``
(IC-LoRA: the video to transform).
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
        seed = int(params.get("seed") or self.generator.settings.seed)
        if int(params.get("steps") or 0) > 0:
            self.generator.settings = replace(self.generator.settings, steps=int(params["steps"]))
        conditions = self._conditions(params)
        rows = []
        for index, prompt in enumerate(prompts):
            scale = float(params.get("adapter_scale", 1.0) if params.get("adapter_scale") is not None else 1.0)
            clip = self.generator(prompt, seed=seed + index, adapter_scale=scale, **conditions)
            path = save_clip(out_dir / f"sample_{index:03d}.mp4", clip, self.generator.settings.frame_rate)
            rows.append({"prompt": prompt, "video_path": str(path)})
        return pd.DataFrame(rows)

    def _conditions(self, params: dict) -> dict:
        """The first frame (image-to-video) or the reference clip (IC-LoRA), read at the generation size."""
        from ltx_pipelines.config import Bucket
        from ltx_pipelines.media.decode import decode_clip, decode_image

        settings = self.generator.settings
        bucket = Bucket(width=settings.width, height=settings.height, frames=settings.frames)
        conditions = {}
        if params.get("image_path"):
            still = Bucket(width=settings.width, height=settings.height, frames=1)
            conditions["image"] = decode_image(params["image_path"], still)[0]
        if params.get("reference_path"):
            conditions["reference"] = decode_clip(params["reference_path"], bucket, fps=settings.frame_rate)
            conditions["reference_downscale"] = int(self.recipe.get("method", {}).get("reference_downscale", 1))
        return conditions


def _prompts(model_input) -> list[str]:
    if isinstance(model_input, pd.DataFrame):
        column = "prompt" if "prompt" in model_input.columns else model_input.columns[0]
        return [str(p) for p in model_input[column]]
    if isinstance(model_input, str):
        return [model_input]
    return [str(p) for p in model_input]


mlflow.models.set_model(AdapterGenerator())
