"""Configurations: Wan2.1-T2V-1.3B (the paper's "~1B T2V model" class) and tiny stand-ins."""

from __future__ import annotations

from typing import Any

#: Wan2.1-T2V-1.3B transformer, with the input widened to noisy latent + condition (16 + 16).
FULL_TRANSFORMER: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 12,
    "attention_head_dim": 128,
    "in_channels": 32,
    "out_channels": 16,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 8960,
    "num_layers": 30,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "rope_max_seq_len": 1024,
}

#: The Wan2.1 VAE (diffusers AutoencoderKLWan defaults): 8× space, 4× time, 16 channels.
FULL_VAE: dict[str, Any] = {"base_dim": 96, "z_dim": 16}

FULL_UPSAMPLER: dict[str, Any] = {"channels": 16, "hidden": 128}

TINY_TRANSFORMER: dict[str, Any] = {
    **FULL_TRANSFORMER,
    "num_attention_heads": 2,
    "attention_head_dim": 8,
    "text_dim": 16,
    "freq_dim": 16,
    "ffn_dim": 32,
    "num_layers": 2,
    "rope_max_seq_len": 64,
}
TINY_VAE: dict[str, Any] = {
    "base_dim": 8,
    "z_dim": 16,
    "dim_mult": [1, 1, 1, 1],
    "num_res_blocks": 1,
}
TINY_UPSAMPLER: dict[str, Any] = {"channels": 16, "hidden": 8}

#: Flow-matching sampling: Euler on sigmas shifted by 5, as Wan2.1 samples at 480p–720p.
FLOW_SHIFT = 5.0
TEXT_LEN = {"full": 512, "tiny": 8}


def presets(size: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    if size == "tiny":
        return TINY_TRANSFORMER, TINY_VAE, TINY_UPSAMPLER
    if size == "full":
        return FULL_TRANSFORMER, FULL_VAE, FULL_UPSAMPLER
    raise ValueError(f"unknown preset {size!r}: use tiny or full")
