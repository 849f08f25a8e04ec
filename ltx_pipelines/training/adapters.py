"""What training adds to the transformer, how it is saved, and how it is put back.

| type            | trains                     | saved as (``<run>/adapter/``)                                     |
|-----------------|----------------------------|-------------------------------------------------------------------|
| lora            | low-rank A·B               | diffusers LoRA (``pipe.load_lora_weights``) + ComfyUI copy         |
| dora            | LoRA + magnitude vectors   | diffusers LoRA (diffusers' loader reads DoRA)                      |
| lokr, loha, ia3 | peft's other adapters      | peft format: ``adapter_model.safetensors`` + ``adapter_config.json`` |
| full            | every transformer weight   | ``transformer/`` (``save_pretrained``), a drop-in transformer        |

Every adapter folder has ``ltx_adapter.json`` saying which, so loading never guesses. Safetensors only.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ltx_pipelines.atomic import atomic_dir, write_json
from ltx_pipelines.config import LoraSpec
from ltx_pipelines.hashing import file_sha256
from ltx_pipelines.training import lora

INFO_FILE = "ltx_adapter.json"
PEFT_WEIGHTS = "adapter_model.safetensors"
FULL_WEIGHTS = "transformer/diffusion_pytorch_model.safetensors"
DIFFUSERS_TYPES = ("lora", "dora")


@dataclass(frozen=True)
class AdapterFiles:
    """Where an adapter was written: its folder, main weights file, ComfyUI copy ("" if none), sha256, type."""

    directory: str
    diffusers_file: str
    comfyui_file: str
    sha256: str
    type: str = "lora"

    def to_dict(self) -> dict:
        return asdict(self)


def add_adapter(transformer: torch.nn.Module, spec: LoraSpec, name: str = "default") -> list[torch.nn.Parameter]:
    """Make ``transformer`` trainable per ``spec``; returns the trainable parameters (float32)."""
    if spec.type == "full":
        transformer.requires_grad_(True)
        params = list(transformer.parameters())
    else:
        transformer.requires_grad_(False)
        transformer.add_adapter(peft_config(spec), adapter_name=name)
        params = [p for p in transformer.parameters() if p.requires_grad]
        if not params:
            raise ValueError(f"{spec.type} target_modules {spec.target_modules} matched no layer of the transformer")
    for param in params:
        param.data = param.data.float()
    return params


def peft_config(spec: LoraSpec):
    """The peft config for an adapter type."""
    from peft import IA3Config, LoHaConfig, LoKrConfig, LoraConfig

    modules = spec.modules
    if spec.type in DIFFUSERS_TYPES:
        return LoraConfig(
            r=spec.rank,
            lora_alpha=spec.alpha,
            lora_dropout=spec.dropout,
            target_modules=modules,
            init_lora_weights="gaussian",
            use_dora=spec.type == "dora",
        )
    if spec.type == "lokr":
        return LoKrConfig(r=spec.rank, alpha=spec.alpha, rank_dropout=spec.dropout, target_modules=modules)
    if spec.type == "loha":
        return LoHaConfig(r=spec.rank, alpha=spec.alpha, rank_dropout=spec.dropout, target_modules=modules)
    if spec.type == "ia3":  # scales activations: the feed-forward outputs count as "feedforward" modules
        return IA3Config(target_modules=modules, feedforward_modules=[m for m in modules if "ff." in m])
    raise ValueError(f"no peft config for adapter type {spec.type!r}")


def save_adapter(
    directory: str | Path, transformer: torch.nn.Module, pipeline_class: type, spec: LoraSpec, metadata: dict
) -> AdapterFiles:
    """Write what was trained to ``directory`` (replaced as a whole, atomically) in the format of its type."""
    directory = Path(directory)
    with atomic_dir(directory) as tmp:
        if spec.type in DIFFUSERS_TYPES:
            main, comfy = lora.save_lora_files(tmp, transformer, pipeline_class, metadata, comfy=spec.type == "lora")
        elif spec.type == "full":
            transformer.save_pretrained(tmp / "transformer", safe_serialization=True)
            main, comfy = tmp / FULL_WEIGHTS, None
        else:
            from peft.utils import get_peft_model_state_dict

            from ltx_pipelines.tensors import save_tensors

            state = {k: v.detach().float().cpu() for k, v in get_peft_model_state_dict(transformer).items()}
            header = {lora.METADATA_KEY: json.dumps(metadata, sort_keys=True, default=str)}
            main = save_tensors(tmp / PEFT_WEIGHTS, state, metadata=header)
            transformer.peft_config["default"].save_pretrained(str(tmp))
            comfy = None
        write_json(tmp / INFO_FILE, {"type": spec.type, "spec": spec.model_dump(), "metadata": metadata})
        sha = file_sha256(main)
        main_name, comfy_name = main.relative_to(tmp), comfy.relative_to(tmp) if comfy else None
    return AdapterFiles(
        str(directory), str(directory / main_name), str(directory / comfy_name) if comfy_name else "", sha, spec.type
    )


def adapter_type(directory: str | Path) -> str:
    """The type recorded in an adapter folder (``lora`` for a bare diffusers LoRA folder or file)."""
    info = Path(directory) / INFO_FILE
    return json.loads(info.read_text())["type"] if info.exists() else "lora"


def attach_adapter(transformer: torch.nn.Module, pipeline_class: type, directory: str | Path, name: str) -> None:
    """Load the adapter in ``directory`` into ``transformer`` under ``name`` and make it active.

    LoRA and DoRA go through diffusers' own loader (what ``pipe.load_lora_weights`` does); the other peft types
    through peft. A full fine-tune is a whole transformer: load it with :func:`full_transformer_path` instead.
    """
    kind = adapter_type(directory)
    if kind == "full":
        raise ValueError(f"{directory} holds a fully fine-tuned transformer, not an adapter to attach")
    if kind in DIFFUSERS_TYPES:
        lora.load_adapter_into(transformer, pipeline_class, directory, name)
    else:
        from peft import PeftConfig
        from peft.utils import set_peft_model_state_dict

        from ltx_pipelines.tensors import load_tensors

        transformer.add_adapter(PeftConfig.from_pretrained(str(directory)), adapter_name=name)
        result = set_peft_model_state_dict(transformer, load_tensors(Path(directory) / PEFT_WEIGHTS), adapter_name=name)
        if result.unexpected_keys:
            raise ValueError(f"{directory}: {len(result.unexpected_keys)} weights match no adapter layer")
    transformer.set_adapter(name)


def full_transformer_path(directory: str | Path) -> str | None:
    """For a full fine-tune, the folder to load the transformer from (it has ``transformer/``); else None."""
    return str(directory) if adapter_type(directory) == "full" else None
