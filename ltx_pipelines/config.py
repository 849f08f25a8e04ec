"""Typed recipes: what a dataset folder's ``ltx.yaml`` may say, with working defaults for the tiny preset."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

RECIPE_FILE = "ltx.yaml"
DEFAULT_BASE_MODEL = "tiny-ltx-video"


class Spec(BaseModel):
    """Base for every spec: unknown keys are an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Bucket(Spec):
    """One training resolution: width and height multiples of 32, frames = 8k+1."""

    width: int = 64
    height: int = 64
    frames: int = 17

    @field_validator("width", "height")
    @classmethod
    def _multiple_of_32(cls, value: int) -> int:
        if value < 32 or value % 32:
            raise ValueError(f"must be a positive multiple of 32, got {value}")
        return value

    @field_validator("frames")
    @classmethod
    def _eight_k_plus_one(cls, value: int) -> int:
        if value < 1 or (value - 1) % 8:
            raise ValueError(f"must be 8k+1 (1, 9, 17, 25, ...), got {value}")
        return value

    @property
    def label(self) -> str:
        return f"{self.width}x{self.height}x{self.frames}"

    @property
    def aspect(self) -> float:
        return self.width / self.height


DEFAULT_CAPTION_PROMPT = (
    "Describe this video in one detailed paragraph: the main subjects, their appearance and actions, the setting, "
    "the lighting and the camera motion. Start directly with the description."
)


class SceneSpec(Spec):
    """Optional scene split (PySceneDetect's content detector): a long video becomes one clip per scene."""

    enabled: bool = False
    threshold: float = Field(default=27.0, gt=0, description="content detector threshold (lower: more cuts)")
    min_scene_seconds: float = Field(default=0.5, ge=0, description="scenes shorter than this are merged")
    max_clips_per_video: int | None = Field(default=None, ge=1, description="keep at most this many clips")


class CaptioningSpec(Spec):
    """The captioner for clips without a caption: a transformers vision-language model on sampled frames."""

    model: str | None = Field(
        default=None, description="VLM folder, hub id or preset (tiny-vlm); None: uncaptioned clips are quarantined"
    )
    prompt: str = Field(default=DEFAULT_CAPTION_PROMPT, min_length=1, description="the instruction given with frames")
    frames: int = Field(default=4, ge=1, le=32, description="frames sampled evenly from each clip")
    max_new_tokens: int = Field(default=128, ge=1)
    batch_size: int = Field(default=4, ge=1, description="clips captioned per generate() call")


class DatasetSpec(Spec):
    """How a folder of clips (or an official-trainer manifest) becomes training samples."""

    buckets: list[Bucket] = Field(default_factory=lambda: [Bucket()], min_length=1)
    fps: float | None = Field(default=None, gt=0, description="resample to this frame rate; None keeps the source's")
    trigger_word: str | None = Field(default=None, description="prepended to every caption")
    holdout_fraction: float = Field(default=0.2, ge=0.0, lt=1.0, description="clips kept out of training for eval")
    min_side: int = Field(default=32, ge=1, description="clips smaller than this on either side are quarantined")
    max_pixels: int = Field(
        default=4096 * 4096,
        ge=1,
        description="sources with more pixels per frame (width × height) are quarantined before anything is decoded",
    )
    manifest: str | None = Field(
        default=None, description="CSV/JSON/JSONL with caption + media_path, relative to the folder; default: detect"
    )
    deduplicate: bool = Field(default=True, description="quarantine files whose bytes repeat an earlier file")
    scenes: SceneSpec = Field(default_factory=SceneSpec)
    captioning: CaptioningSpec = Field(default_factory=CaptioningSpec)
    max_quarantined_fraction: float = Field(
        default=0.5, ge=0.0, le=1.0, description="the quarantine check warns above this share of files"
    )

    @field_validator("buckets")
    @classmethod
    def _distinct_buckets(cls, buckets: list[Bucket]) -> list[Bucket]:
        labels = [b.label for b in buckets]
        repeated = sorted({label for label in labels if labels.count(label) > 1})
        if repeated:
            raise ValueError(f"buckets repeat: {', '.join(repeated)}")
        return buckets


LORA_TARGET_PRESETS: dict[str, list[str]] = {
    # every attention projection: video and (LTX-2) audio self/cross attention, audio<->video attention
    "attention": ["to_q", "to_k", "to_v", "to_out.0"],
    # the video feed-forward (the official IC-LoRA presets add it); LTX-2's audio_ff is named apart
    "ffn": ["ff.net.0.proj", "ff.net.2"],
    "audio-ffn": ["audio_ff.net.0.proj", "audio_ff.net.2"],
}


class LoraSpec(Spec):
    """What is trained on the transformer: a PEFT adapter (``lora``, ``dora``, ``lokr``, ``loha``, ``ia3``) or
    every weight (``full``). ``target_modules`` takes module name suffixes and the preset names ``attention``,
    ``ffn`` and ``audio-ffn``."""

    type: Literal["lora", "dora", "lokr", "loha", "ia3", "full"] = "lora"
    rank: int = Field(default=16, ge=1)
    alpha: float = Field(default=16.0, gt=0)
    dropout: float = Field(default=0.0, ge=0.0, lt=1.0)
    target_modules: list[str] = Field(default_factory=lambda: ["attention"], min_length=1)

    @property
    def modules(self) -> list[str]:
        """``target_modules`` with preset names expanded, duplicates dropped, order kept."""
        expanded = [m for t in self.target_modules for m in LORA_TARGET_PRESETS.get(t, [t])]
        return list(dict.fromkeys(expanded))


class ValidationSpec(Spec):
    """Sample videos from the adapter while it trains (off when ``every`` is 0)."""

    every: int = Field(default=0, ge=0, description="steps between validation samples; 0 = off")
    prompts: list[str] = Field(default_factory=list)
    inference_steps: int = Field(default=10, ge=1)
    seed: int = 0


class TrainingSpec(Spec):
    """The LoRA training loop (rectified flow, as the official LTX trainers do it)."""

    steps: int = Field(default=300, ge=1)
    batch_size: int = Field(default=4, ge=1)
    gradient_accumulation: int = Field(default=1, ge=1)
    learning_rate: float = Field(default=2e-3, gt=0)
    weight_decay: float = Field(default=0.0, ge=0)
    warmup_steps: int = Field(default=20, ge=0)
    max_grad_norm: float = Field(default=1.0, gt=0)
    seed: int = 0
    first_frame_conditioning_p: float = Field(default=0.0, ge=0.0, le=1.0)
    audio_loss_weight: float = Field(default=1.0, ge=0.0, description="LTX-2: weight of the audio term")
    checkpoint_every: int = Field(default=100, ge=1)
    keep_checkpoints: int = Field(default=2, ge=1)
    mixed_precision: str = Field(default="auto", pattern="^(auto|no|bf16)$")
    gradient_checkpointing: bool = False
    optimizer: Literal["adamw", "adamw8bit"] = "adamw"
    validation: ValidationSpec = Field(default_factory=ValidationSpec)


class EvaluationSpec(Spec):
    """How adapters are scored: denoising loss at fixed seeds and σ on held-out clips (adaptation) and on a
    prior set (forgetting), sample videos base vs. adapter, optional CLIP scores, and the promotion gate."""

    sigmas: list[float] = Field(default_factory=lambda: [0.2, 0.4, 0.6, 0.8], min_length=1)
    seeds: list[int] = Field(default_factory=lambda: [0, 1, 2], min_length=1)
    prior_clips: str | None = Field(
        default=None, description="folder of other clips + captions (relative to the dataset) to measure forgetting"
    )
    prompts: list[str] = Field(default_factory=list, description="sample prompts rendered base vs. adapter")
    sample_seeds: list[int] = Field(default_factory=lambda: [0])
    inference_steps: int = Field(default=20, ge=1)
    clip_model: str | None = Field(default=None, description="CLIP model (id or folder) for text/style scores")
    prior_tolerance: float = Field(
        default=0.05, ge=0.0, description="largest allowed relative rise of the prior-set loss over the base"
    )
    instruction_check: bool = Field(
        default=False, description="score held-out captions' colour/motion in generations (synthetic vocabulary)"
    )

    @field_validator("sigmas")
    @classmethod
    def _in_unit_interval(cls, values: list[float]) -> list[float]:
        bad = [v for v in values if not 0.0 < v < 1.0]
        if bad:
            raise ValueError(f"sigmas must lie strictly between 0 and 1, got {bad}")
        return values


class MethodSpec(Spec):
    """How clips become training examples (the official trainers' training strategies).

    ``text_to_video``: the clip is generated from its caption. ``image_to_video``: the first latent frame is given
    clean (σ = 0, no loss) with probability ``training.first_frame_conditioning_p`` (1.0 when left at 0).
    ``in_context`` (IC-LoRA): each clip's reference (``reference_path`` or ``NAME.ref.mp4``) is given as clean
    tokens before the noised target, at the same positions, timestep 0 and no loss. ``modalities`` (LTX-2):
    ``audio_video`` trains both streams; ``video`` the video alone (sound as pure noise, no loss); ``audio`` the
    sound for given footage (video tokens clean, no video loss)."""

    strategy: Literal["text_to_video", "image_to_video", "in_context"] = "text_to_video"
    reference_downscale: int = Field(default=1, ge=1, description="in_context: references at 1/k resolution")
    modalities: Literal["audio_video", "video", "audio"] = "audio_video"

    def first_frame_p(self, training: TrainingSpec) -> float:
        """The probability that a clip's first latent frame is the clean condition."""
        if self.strategy == "image_to_video" and training.first_frame_conditioning_p == 0.0:
            return 1.0
        return training.first_frame_conditioning_p


class PriorPreservationSpec(Spec):
    """DreamBooth-style prior preservation: clips of the class generated by the base model (cached), trained
    alongside the subject's clips with ``weight`` so the class keeps its general look."""

    class_prompt: str = Field(min_length=1, description="the class without the trigger word, e.g. 'a circle moving'")
    clips: int = Field(default=8, ge=1)
    weight: float = Field(default=1.0, ge=0.0)
    inference_steps: int = Field(default=20, ge=1)
    seed: int = 0


class Recipe(Spec):
    """Everything that makes one dataset partition's fine-tune reproducible."""

    base_model: str = Field(default=DEFAULT_BASE_MODEL, description="preset name, hub id or local folder")
    model_name: str | None = Field(default=None, description="registered model name; default ltx-lora-<dataset>")
    dataset: DatasetSpec = Field(default_factory=DatasetSpec)
    lora: LoraSpec = Field(default_factory=LoraSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)
    evaluation: EvaluationSpec = Field(default_factory=EvaluationSpec)
    method: MethodSpec = Field(default_factory=MethodSpec)
    prior_preservation: PriorPreservationSpec | None = None

    def registered_model_name(self, dataset: str) -> str:
        """The MLflow registered model this dataset's adapters go to."""
        return self.model_name or f"ltx-lora-{dataset}"


class RecipeError(ValueError):
    """A recipe file that cannot be read or does not validate; the message names the file."""


def load_recipe(dataset_root: str | Path) -> Recipe:
    """The dataset folder's ``ltx.yaml`` (safe YAML, unknown keys rejected), or the defaults without one."""
    path = Path(dataset_root) / RECIPE_FILE
    if not path.exists():
        return Recipe()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        raise RecipeError(f"{path}: not valid YAML: {error}") from error
    return parse_recipe(raw or {}, source=str(path))


def parse_recipe(raw: Any, source: str = "<recipe>") -> Recipe:
    """Validate a recipe mapping; errors name ``source`` and each bad key."""
    if not isinstance(raw, dict):
        raise RecipeError(f"{source}: expected a mapping at the top level, got {type(raw).__name__}")
    try:
        return Recipe.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors())
        raise RecipeError(f"{source}: {problems}") from error


def with_overrides(spec: Spec, overrides: dict[str, Any]) -> Spec:
    """A copy of ``spec`` with the non-None values of ``overrides`` applied and validated."""
    updates = {k: v for k, v in overrides.items() if v is not None}
    if not updates:
        return spec
    return type(spec).model_validate({**spec.model_dump(), **updates})
