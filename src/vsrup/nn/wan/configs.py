"""Configurations of the Wan bases our methods build on, and tiny stand-ins for tests.

The full configs are those of the diffusers repos (`transformer/config.json`,
`vae/config.json`); the tiny ones keep every structural feature (patching, RoPE split, VAE
compression) at a few KB, so tests shrink a model by passing small arguments.
"""

from __future__ import annotations

from typing import Any

#: diffusers WanTransformer3DModel config of Wan2.1-T2V-1.3B.
WAN21_T2V_1_3B: dict[str, Any] = {
    "patch_size": (1, 2, 2),
    "num_attention_heads": 12,
    "attention_head_dim": 128,
    "in_channels": 16,
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

#: diffusers WanTransformer3DModel config of Wan2.1-I2V-14B-720P.
WAN21_I2V_14B: dict[str, Any] = {
    **WAN21_T2V_1_3B,
    "num_attention_heads": 40,
    "in_channels": 36,
    "ffn_dim": 13824,
    "num_layers": 40,
    "image_dim": 1280,
    "added_kv_proj_dim": 5120,
}

#: diffusers WanTransformer3DModel config of Wan2.2-TI2V-5B (48-channel latent).
WAN22_TI2V_5B: dict[str, Any] = {
    **WAN21_T2V_1_3B,
    "num_attention_heads": 24,
    "in_channels": 48,
    "out_channels": 48,
    "ffn_dim": 14336,
}

#: A two-block stand-in (2 heads × 12 channels, so RoPE splits 4/4/4 like the real 44/42/42).
TINY_TRANSFORMER: dict[str, Any] = {
    **WAN21_T2V_1_3B,
    "num_attention_heads": 2,
    "attention_head_dim": 12,
    "text_dim": 16,
    "freq_dim": 16,
    "ffn_dim": 32,
    "num_layers": 2,
    "rope_max_seq_len": 64,
}

#: Wan2.1 VAE (diffusers AutoencoderKLWan defaults: 8× space, 4× time, 16 channels).
WAN21_VAE: dict[str, Any] = {}
TINY_WAN21_VAE: dict[str, Any] = {
    "base_dim": 8,
    "z_dim": 16,
    "dim_mult": [1, 1, 1, 1],
    "num_res_blocks": 1,
}

#: Wan2.2 high-compression VAE: 16× space (2×2 patchify inside), 4× time, 48 channels.
WAN22_VAE: dict[str, Any] = {
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
TINY_WAN22_VAE: dict[str, Any] = {
    **WAN22_VAE,
    "base_dim": 8,
    "decoder_base_dim": 8,
    "dim_mult": [1, 1, 1, 1],
    "num_res_blocks": 1,
}
