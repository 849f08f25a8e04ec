"""Latent precompute: VAE latents per clip and text embeddings per caption, cached by content.

``cache/latents/<key>.safetensors`` holds ``latents`` (C×f×h×w, normalised as the pipeline expects) and, for
families with sound whose clip has an audio track, ``audio_latents`` (C×L×M); ``cache/text/<key>.safetensors``
holds the caption's conditioning tensors. A caption edit re-encodes only that caption; the encoders load only
when something is missing, and are freed afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch

from ltx_pipelines.captioning import CaptionRecord
from ltx_pipelines.compute import free_memory
from ltx_pipelines.frames import FrameClip
from ltx_pipelines.hashing import cache_key
from ltx_pipelines.models.family import AUDIO, REFERENCE, VIDEO, family_for
from ltx_pipelines.models.resolve import ResolvedModel
from ltx_pipelines.splits import holdout_ids
from ltx_pipelines.tensors import load_tensors, save_tensors, tensor_shape

CODE_VERSION = "encoding-3"


@dataclass(frozen=True)
class LatentRecord:
    """One training sample in the cache: its clip's latents and its caption's text embedding."""

    clip_id: str
    caption: str
    bucket: str
    latent_key: str
    latent_path: str
    text_key: str
    text_path: str
    latent_shape: tuple[int, ...]
    has_audio: bool = False
    split: str = "train"
    has_reference: bool = False

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> LatentRecord:
        return cls(**{**data, "latent_shape": tuple(data["latent_shape"])})


@dataclass
class EncodeResult:
    """Records for every clip, and how many latents/embeddings were computed vs. reused."""

    records: list[LatentRecord] = field(default_factory=list)
    videos_encoded: int = 0
    videos_reused: int = 0
    texts_encoded: int = 0
    texts_reused: int = 0


def encode_dataset(
    clips: Sequence[FrameClip],
    captions: dict[str, CaptionRecord],
    model: ResolvedModel,
    latents_dir: Path,
    text_dir: Path,
    device: torch.device,
    dtype: torch.dtype = torch.float32,
    on_clip: Callable[[int, int], None] | None = None,
    reference_downscale: int | None = None,
) -> EncodeResult:
    """Encode the clips that have a caption; everything already in the cache is reused.

    With ``reference_downscale`` (IC-LoRA), each clip's reference frames are encoded too, at 1/k resolution, as
    ``reference_latents``; clips without a reference are then left out.
    """
    family = family_for(model.pipeline_class)
    result = EncodeResult()
    encoders = None
    for index, clip in enumerate(clips):
        caption = captions.get(clip.clip_id)
        if caption is None or (reference_downscale and not clip.has_reference):
            continue
        latent_key = cache_key(clip.key, model.fingerprint, reference_downscale, CODE_VERSION)
        text_key = cache_key(caption.key, model.fingerprint, CODE_VERSION)
        latent_path = latents_dir / f"{latent_key}.safetensors"
        text_path = text_dir / f"{text_key}.safetensors"
        if (not latent_path.exists() or not text_path.exists()) and encoders is None:
            encoders = family.load_encoders(model.path, device, dtype)
        if latent_path.exists():
            result.videos_reused += 1
        else:
            audio = clip.load_audio() if AUDIO in family.modalities else None
            tensors = family.encode_clip(encoders, torch.from_numpy(clip.load()), audio)
            if reference_downscale:
                reference = downscale(torch.from_numpy(clip.load_reference()), reference_downscale)
                tensors[REFERENCE] = family.encode_clip(encoders, reference, None)[VIDEO]
            save_tensors(latent_path, tensors, metadata={"clip_id": clip.clip_id})
            result.videos_encoded += 1
        if text_path.exists():
            result.texts_reused += 1
        else:
            save_tensors(text_path, family.encode_prompts(encoders, [caption.text])[0])
            result.texts_encoded += 1
        result.records.append(
            LatentRecord(
                clip_id=clip.clip_id,
                caption=caption.text,
                bucket=clip.bucket,
                latent_key=latent_key,
                latent_path=str(latent_path),
                text_key=text_key,
                text_path=str(text_path),
                latent_shape=tensor_shape(latent_path, VIDEO),
                has_audio=_has_tensor(latent_path, AUDIO),
                has_reference=_has_tensor(latent_path, REFERENCE),
            )
        )
        if on_clip:
            on_clip(index + 1, len(clips))
    if encoders is not None:
        del encoders
        free_memory()
    return result


def downscale(frames: torch.Tensor, factor: int) -> torch.Tensor:
    """F×H×W×3 uint8 frames at 1/``factor`` of their size (area filter); unchanged for factor 1."""
    if factor == 1:
        return frames
    height, width = frames.shape[1] // factor, frames.shape[2] // factor
    pixels = frames.permute(0, 3, 1, 2).float()
    small = torch.nn.functional.interpolate(pixels, size=(height, width), mode="area")
    return small.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def assign_splits(records: Sequence[LatentRecord], holdout_fraction: float) -> list[LatentRecord]:
    """The records with ``split`` set to ``holdout`` or ``train`` (deterministic by clip id)."""
    held = holdout_ids([r.clip_id for r in records], holdout_fraction)
    return [replace(r, split="holdout" if r.clip_id in held else "train") for r in records]


def load_sample(record: LatentRecord) -> dict[str, torch.Tensor]:
    """A cached sample's tensors: its latents (video, and audio if any) and its text conditioning."""
    return {**load_tensors(record.latent_path), **load_tensors(record.text_path)}


def _has_tensor(path: Path, name: str) -> bool:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        return name in handle.keys()  # noqa: SIM118 - safe_open has keys(), not __contains__
