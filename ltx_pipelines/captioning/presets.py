"""Captioning models: resolve a preset name, local folder or hub id; build the tiny preset offline.

``tiny-vlm`` is a Gemma 3 vision-language model with random weights (SigLIP tower of one layer, two text layers)
and a byte-level BPE tokenizer trained with the ``tokenizers`` library: built in a second from the real
transformers classes, saved with ``save_pretrained``, and loaded exactly like a real checkpoint. Its captions are
noise; it exists so the whole captioning path runs in tests and demos without a download.
"""

from __future__ import annotations

from pathlib import Path

import torch

from ltx_pipelines.atomic import atomic_dir
from ltx_pipelines.captioning.vlm import CaptionerModel
from ltx_pipelines.hashing import tree_fingerprint
from ltx_pipelines.home import Home

TINY_VLM = "tiny-vlm"
TINY_VLM_VERSION = "1"
_SPECIAL_TOKENS = [
    "<pad>",
    "<eos>",
    "<bos>",
    "<unk>",
    "<start_of_turn>",
    "<end_of_turn>",
    "<start_of_image>",
    "<end_of_image>",
    "<image_soft_token>",
]
_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}<start_of_turn>"
    "{{ 'model' if message['role'] == 'assistant' else message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<start_of_image>{% elif item['type'] == 'text' %}{{ item['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<end_of_turn>\n{% endfor %}{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)
_CORPUS = (
    "a the video shows red green blue yellow circle square triangle shape moving from left to right top bottom "
    "slowly quickly on dark grid neon glowing outline soft background flat colours camera static pans light"
)


def resolve_captioner(model: str, home: Home) -> CaptionerModel:
    """``model`` as a local folder: the tiny preset is built into ``<home>/models`` once; a folder is used as is;
    anything else is a Hugging Face hub id (downloaded once into the HF cache)."""
    if model == TINY_VLM:
        path = home.models / f"{TINY_VLM}-v{TINY_VLM_VERSION}"
        if not (path / "config.json").exists():
            build_tiny_vlm(path)
    elif Path(model).expanduser().is_dir():
        path = Path(model).expanduser().resolve()
    else:
        from huggingface_hub import snapshot_download

        patterns = ["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"]
        path = Path(snapshot_download(model, allow_patterns=patterns))
    if not (path / "config.json").exists():
        raise FileNotFoundError(f"{path}: no config.json; captioning.model must be a transformers model folder")
    return CaptionerModel(model, str(path), tree_fingerprint(path))


def build_tiny_vlm(target: Path, seed: int = 0) -> Path:
    """Save a tiny ``Gemma3ForConditionalGeneration`` with its processor to ``target`` (offline, seeded)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Gemma3Config, Gemma3ForConditionalGeneration, Gemma3Processor, GemmaTokenizerFast
    from transformers.models.gemma3.image_processing_pil_gemma3 import Gemma3ImageProcessorPil

    bpe = Tokenizer(models.BPE(unk_token="<unk>"))
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=320,
        special_tokens=_SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    bpe.train_from_iterator([_CORPUS] * 20, trainer)
    tokenizer = GemmaTokenizerFast(
        tokenizer_object=bpe,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
        extra_special_tokens={
            "boi_token": "<start_of_image>",
            "eoi_token": "<end_of_image>",
            "image_token": "<image_soft_token>",
        },
    )
    ids = {token: tokenizer.convert_tokens_to_ids(token) for token in _SPECIAL_TOKENS}
    processor = Gemma3Processor(
        image_processor=Gemma3ImageProcessorPil(size={"height": 28, "width": 28}),
        tokenizer=tokenizer,
        chat_template=_CHAT_TEMPLATE,
        image_seq_length=4,
    )
    config = Gemma3Config(
        text_config={
            "vocab_size": len(tokenizer),
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_hidden_layers": 2,
            "num_attention_heads": 2,
            "num_key_value_heads": 1,
            "head_dim": 16,
            "max_position_embeddings": 1024,
            "sliding_window": 64,
        },
        vision_config={
            "hidden_size": 16,
            "intermediate_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "image_size": 28,
            "patch_size": 14,
        },
        mm_tokens_per_image=4,
        boi_token_index=ids["<start_of_image>"],
        eoi_token_index=ids["<end_of_image>"],
        image_token_index=ids["<image_soft_token>"],
        bos_token_id=ids["<bos>"],
        eos_token_id=ids["<eos>"],
        pad_token_id=ids["<pad>"],
    )
    torch.manual_seed(seed)
    model = Gemma3ForConditionalGeneration(config)
    with atomic_dir(target) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)
        (tmp / "ltx_pipelines_preset.txt").write_text(f"{TINY_VLM} v{TINY_VLM_VERSION} seed {seed}\n")
    return target
