"""Prompt embeddings for STCDiT: positive and (for CFG) negative, cached on disk.

Both are computed before the DiT is built, with the UMT5 encoder loaded in bf16, used once,
and freed (vsrup.nn.wan.text); later runs with the same prompts read the cache and never load
the encoder at all.
"""

from __future__ import annotations

from pathlib import Path

import torch

from vsrup.methods.stcdit.config import NEGATIVE_PROMPT
from vsrup.nn.wan.text import encode_prompt


def prompt_embeddings(
    base_dir: Path,
    prompt: str | None,
    negative_prompt: str | None,
    use_cfg: bool,
    device: torch.device,
    max_length: int = 512,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(positive, negative or None) float32 embeddings, (1, max_length, 4096) each."""
    positive = encode_prompt(base_dir, prompt or "", device, max_length)
    if not use_cfg:
        return positive, None
    negative = NEGATIVE_PROMPT if negative_prompt is None else negative_prompt
    return positive, encode_prompt(base_dir, negative, device, max_length)
