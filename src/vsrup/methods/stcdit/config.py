"""STCDiT configurations: the Wan2.1 bases the official checkpoints sit on, and tiny ones.

`tiny` (the paper's STCDiT-tiny, `tiny_8k.bin`) extends Wan2.1-T2V-1.3B; `large`
(`large_5k.bin`) extends Wan2.1-I2V-14B-720P, whose 36 input channels carry the LQ latent
(16 noise + 4 mask + 16 LQ) instead of a separate LQ patch embedding. `test` is a few-KB
stand-in with every structural feature, for unit tests and `--synthetic-weights tiny`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vsrup.nn.wan.configs import (  # noqa: F401 (re-exported for tests and tools)
    TINY_TRANSFORMER,
    WAN21_I2V_14B,
    WAN21_T2V_1_3B,
    WAN21_VAE,
)
from vsrup.nn.wan.configs import TINY_WAN21_VAE as TINY_VAE


@dataclass(frozen=True)
class STCDiTConfig:
    """Everything that defines one STCDiT variant."""

    transformer: dict[str, Any]
    vae: dict[str, Any]
    #: LoRA on q, k, v, o of both attentions and both FFN linears of every block.
    lora_rank: int = 128
    lora_alpha: float = 128.0
    #: The large model feeds the LQ latent through the I2V channel concat.
    lq_concat: bool = False
    #: Context tokens that the large model's cross-attention routes through its image
    #: projections (the official I2V block splits its context at 257 even for text).
    image_context_tokens: int = 0
    text_len: int = 512
    cfg_scale: float = 1.0
    extra: dict[str, Any] = field(default_factory=dict)


PRESETS: dict[str, STCDiTConfig] = {
    "tiny": STCDiTConfig(WAN21_T2V_1_3B, WAN21_VAE, cfg_scale=1.0),
    "large": STCDiTConfig(
        WAN21_I2V_14B, WAN21_VAE, lq_concat=True, image_context_tokens=257, cfg_scale=4.0
    ),
    "test": STCDiTConfig(TINY_TRANSFORMER, TINY_VAE, lora_rank=4, lora_alpha=4.0, text_len=8),
    # The large model's structure at the test size (its unused CLIP embedder kept small).
    "test-large": STCDiTConfig(
        {**TINY_TRANSFORMER, "in_channels": 36, "image_dim": 8, "added_kv_proj_dim": 24},
        TINY_VAE,
        lora_rank=4,
        lora_alpha=4.0,
        lq_concat=True,
        image_context_tokens=257,
        text_len=260,
        cfg_scale=4.0,
    ),
}

#: Sampling as the official inference scripts run it.
SHIFT = 5.0
DEFAULT_STEPS = 10
#: Latent tiles: 21 latent frames, up to 960×1280 output pixels, 95 % stride, gaussian blend.
TILE_FRAMES = 21
TILE_MAX_HW = (960, 1280)
TILE_STRIDE = 0.95
#: Motion segments longer than this are cut (the official segmenter's maximum).
MAX_SEGMENT = 9
#: The inference wrapper keeps every 4th anchor frame plus the last one.
ANCHOR_STRIDE = 4
#: The official negative prompt (Wan's default, in Chinese): garish colours, overexposure,
#: static, blurry detail, grey cast, worst/low quality, JPEG artefacts, ugly, deformed, clutter.
NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，画面，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，畸形的，杂乱的背景"
)
