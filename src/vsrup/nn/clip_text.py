"""CLIP prompt encoding for the SD-family methods (StableVSR, DGAF-VSR, DLoRAL).

One place for how a prompt becomes the UNet's cross-attention input, as diffusers' SD pipelines
do it: tokens padded to the tokenizer's max length (77) and truncated, and the text model's
last hidden state (no pooled output, no skipped layers).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from vsrup.nn.pretrained import load_pretrained

if TYPE_CHECKING:
    import torch


def load_prompt_encoder(
    root: Path, model_id: str, device: str | torch.device = "cpu"
) -> Callable[[str], torch.Tensor]:
    """A prompt → (1, 77, D) embeddings function from `root`'s `tokenizer/` and `text_encoder/`
    (a diffusers snapshot, the registry entry `model_id`), the encoder on `device`."""
    import torch
    from transformers import CLIPTextModel, CLIPTokenizer

    tokenizer = load_pretrained(CLIPTokenizer, root / "tokenizer", model_id)
    model = load_pretrained(CLIPTextModel, root / "text_encoder", model_id).to(device).eval()

    def encode(prompt: str) -> torch.Tensor:
        ids = tokenizer(
            prompt,
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(device)
        with torch.no_grad():
            return model(ids)[0]

    return encode
