"""Configurations of the frozen Wan2.2-TI2V-5B base and of tiny stand-ins for tests.

The full configs are those of `Wan-AI/Wan2.2-TI2V-5B-Diffusers` (transformer/ and vae/
config.json); the tiny ones keep every structural feature (48-channel latent, 2×2 patches,
16× spatial and 4× temporal VAE compression) at a few MB.
"""

from __future__ import annotations

from typing import Any

#: Wan2.2-TI2V-5B transformer (diffusers WanTransformer3DModel).
FULL_TRANSFORMER: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 24,
    "attention_head_dim": 128,
    "in_channels": 48,
    "out_channels": 48,
    "text_dim": 4096,
    "freq_dim": 256,
    "ffn_dim": 14336,
    "num_layers": 30,
    "cross_attn_norm": True,
    "qk_norm": "rms_norm_across_heads",
    "eps": 1e-6,
    "rope_max_seq_len": 1024,
}

#: Wan2.2 high-compression VAE (diffusers AutoencoderKLWan): 16× space, 4× time, 48 channels.
FULL_VAE: dict[str, Any] = {
    "base_dim": 160,
    "decoder_base_dim": 256,
    "z_dim": 48,
    "dim_mult": [1, 2, 4, 4],
    "num_res_blocks": 2,
    "attn_scales": [],
    "temperal_downsample": [False, True, True],
    "is_residual": True,
    "in_channels": 12,
    "out_channels": 12,
    "patch_size": 2,
    "scale_factor_temporal": 4,
    "scale_factor_spatial": 16,
    "latents_mean": [0.0] * 48,
    "latents_std": [1.0] * 48,
}

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
    **FULL_VAE,
    "base_dim": 8,
    "decoder_base_dim": 8,
    "dim_mult": [1, 1, 1, 1],
    "num_res_blocks": 1,
}

TINY_ADAPTER: dict[str, Any] = {
    **FULL_ADAPTER,
    "dim": 16,
    "num_heads": 2,
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
