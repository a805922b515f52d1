"""UMT5 prompt embeddings for Wan models, computed once per prompt and cached on disk.

The encoder (≈ 11 GB in bf16 for UMT5-XXL) is loaded, used and freed before any DiT runs, so
it never competes with the DiT for memory. Embeddings are padded with zeros past the prompt's
tokens to `max_length`, as diffusers' Wan pipelines do.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from vsrup.hub.registry import cache_root
from vsrup.hub.safe_load import save_state_dict


def cache_path(base_dir: Path, prompt: str, max_length: int) -> Path:
    key = hashlib.sha256(f"{Path(base_dir).resolve()}\0{prompt}\0{max_length}".encode()).hexdigest()
    return cache_root() / "text" / f"{key[:24]}.safetensors"


def encode_prompt(
    base_dir: Path, prompt: str, device: torch.device, max_length: int = 512
) -> torch.Tensor:
    """(1, max_length, text_dim) float32 embedding of `prompt` with the model's UMT5 encoder
    (`base_dir`/text_encoder and /tokenizer, diffusers layout)."""
    from safetensors.torch import load_file

    cache = cache_path(base_dir, prompt, max_length)
    if cache.is_file():
        return load_file(cache)["prompt_embeds"]
    from transformers import AutoTokenizer, UMT5EncoderModel

    tokenizer = AutoTokenizer.from_pretrained(Path(base_dir) / "tokenizer")
    encoder = UMT5EncoderModel.from_pretrained(
        Path(base_dir) / "text_encoder", torch_dtype=torch.bfloat16
    ).to(device)
    tokens = tokenizer(
        [prompt],
        padding="max_length",
        max_length=max_length,
        truncation=True,
        add_special_tokens=True,
        return_attention_mask=True,
        return_tensors="pt",
    )
    with torch.no_grad():
        hidden = encoder(
            tokens.input_ids.to(device), tokens.attention_mask.to(device)
        ).last_hidden_state
    length = int(tokens.attention_mask.sum())
    embeds = torch.zeros(hidden.shape, dtype=torch.float32)
    embeds[:, :length] = hidden[:, :length].float().cpu()
    del encoder, hidden
    if device.type == "cuda":
        torch.cuda.empty_cache()
    cache.parent.mkdir(parents=True, exist_ok=True)
    save_state_dict({"prompt_embeds": embeds}, cache)
    return embeds
