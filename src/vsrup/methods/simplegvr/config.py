"""Configurations: Wan2.1-T2V-1.3B (the paper's "~1B T2V model" class) and tiny stand-ins."""

from __future__ import annotations

from typing import Any

from vsrup.nn.wan.configs import TINY_TRANSFORMER as TINY_WAN
from vsrup.nn.wan.configs import TINY_WAN21_VAE, WAN21_T2V_1_3B, WAN21_VAE

#: Wan2.1-T2V-1.3B, with the input widened to noisy latent + condition (16 + 16).
FULL_TRANSFORMER: dict[str, Any] = {**WAN21_T2V_1_3B, "in_channels": 32, "out_channels": 16}
FULL_VAE: dict[str, Any] = WAN21_VAE

FULL_UPSAMPLER: dict[str, Any] = {"channels": 16, "hidden": 128}

TINY_TRANSFORMER: dict[str, Any] = {**TINY_WAN, "in_channels": 32, "out_channels": 16}
TINY_VAE: dict[str, Any] = TINY_WAN21_VAE
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
