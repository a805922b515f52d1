"""A tiny CLIP text encoder + tokenizer in a diffusers-style folder, for the SD family's
prompt-encoding tests (no Hub: a character-level vocabulary and a 2-layer encoder)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

MAX_LENGTH = 12
HIDDEN = 16


def tiny_clip_snapshot(root: Path) -> Path:
    """`root/tokenizer` (max length `MAX_LENGTH`) and `root/text_encoder` (width `HIDDEN`)."""
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    letters = "abcdefghijklmnopqrstuvwxyz"
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in letters:
        vocab[ch] = len(vocab)
        vocab[f"{ch}</w>"] = len(vocab)
    (root / "tokenizer").mkdir(parents=True)
    (root / "tokenizer" / "vocab.json").write_text(json.dumps(vocab))
    (root / "tokenizer" / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(
        str(root / "tokenizer" / "vocab.json"),
        str(root / "tokenizer" / "merges.txt"),
        model_max_length=MAX_LENGTH,
    )
    tokenizer.save_pretrained(root / "tokenizer")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        config = CLIPTextConfig(
            vocab_size=len(vocab), hidden_size=HIDDEN, intermediate_size=32, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=MAX_LENGTH, eos_token_id=1,
            bos_token_id=0, pad_token_id=1,
        )  # fmt: skip
        CLIPTextModel(config).save_pretrained(root / "text_encoder")
    return root
