"""Configurations of the frozen Wan2.2-TI2V-5B base and of tiny stand-ins for tests.

The full configs are those of `Wan-AI/Wan2.2-TI2V-5B-Diffusers` (transformer/ and vae/
config.json); the tiny ones keep every structural feature (48-channel latent, 2×2 patches,
16× spatial and 4× temporal VAE compression) at a few MB.
"""

from __future__ import annotations

from typing import Any

from vsrup.nn.wan.configs import TINY_TRANSFORMER as TINY_WAN
from vsrup.nn.wan.configs import TINY_WAN22_VAE, WAN22_TI2V_5B, WAN22_VAE

FULL_TRANSFORMER: dict[str, Any] = WAN22_TI2V_5B
FULL_VAE: dict[str, Any] = WAN22_VAE

#: The adapter at the paper's size: hidden size of the DiT, query window (1, 16, 16).
FULL_ADAPTER: dict[str, Any] = {
    "in_channels": 48,
    "dim": 3072,
    "num_heads": 24,
    "patch_size": (1, 2, 2),
    "window": (1, 16, 16),
    "num_injections": 30,
    "freq_dim": 256,
    "mlp_ratio": 4.0,
}

#: UniPC as Wan2.2 ships it (flow prediction, shifted flow sigmas).
SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "prediction_type": "flow_prediction",
    "use_flow_sigmas": True,
    "flow_shift": 5.0,
    "solver_order": 2,
}

TINY_TRANSFORMER: dict[str, Any] = {**TINY_WAN, "in_channels": 48, "out_channels": 48}
TINY_VAE: dict[str, Any] = TINY_WAN22_VAE

TINY_ADAPTER: dict[str, Any] = {
    **FULL_ADAPTER,
    "dim": TINY_WAN["num_attention_heads"] * TINY_WAN["attention_head_dim"],
    "num_heads": TINY_WAN["num_attention_heads"],
    "window": (1, 4, 4),
    "num_injections": 2,
    "freq_dim": 16,
    "mlp_ratio": 2.0,
}

#: Text sequence length of the cached empty-prompt embedding (UMT5, as Wan pipelines pad).
TEXT_LEN = {"full": 512, "tiny": 8}


def presets(size: str) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(transformer, vae, adapter) configs for "tiny" or "full"."""
    if size == "tiny":
        return TINY_TRANSFORMER, TINY_VAE, TINY_ADAPTER
    if size == "full":
        return FULL_TRANSFORMER, FULL_VAE, FULL_ADAPTER
    raise ValueError(f"unknown preset {size!r}: use tiny or full")
