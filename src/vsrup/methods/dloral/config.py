"""DLoRAL's sizes and presets: SD 2.1-base UNet and VAE configs (full and tiny), the one-step
timestep, LoRA rank, the official pre-processing size and prompt, tile sizes and the
`--opt` keys that set them.
"""

from __future__ import annotations

from dataclasses import dataclass

#: DLoRAL upscales ×4 only.
SCALE = 4
#: The registry entry of SD 2.1-base (UNet config, VAE, text encoder).
BASE_ID = "sd21-base"
#: The official process size 512 divided by the scale: shorter inputs are enlarged first.
MIN_SHORT_SIDE = 128
#: The prompt when there are no RAM tags and no --prompt.
DEFAULT_PROMPT = "clean, high-resolution, 8k"
#: LoRA rank of every adapter when a checkpoint does not say (official: 4).
DEFAULT_RANK = 4
#: The one denoising step runs at this timestep (official).
TIMESTEP = 1

#: stabilityai/stable-diffusion-2-1-base unet/config.json (the values that differ from defaults).
UNET_FULL: dict = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "attention_head_dim": (5, 10, 20, 20),
    "cross_attention_dim": 1024,
    "use_linear_projection": True,
}
UNET_TINY: dict = {
    "sample_size": 16,
    "in_channels": 4,
    "out_channels": 4,
    "down_block_types": ("CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D"),
    "block_out_channels": (16, 32),
    "layers_per_block": 1,
    "attention_head_dim": (2, 4),
    "cross_attention_dim": 16,
    "norm_num_groups": 8,
    "use_linear_projection": True,
}

VAE_FULL: dict = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "sample_size": 768,
}
VAE_TINY: dict = {
    **VAE_FULL,
    "block_out_channels": (8, 8, 8, 8),
    "layers_per_block": 1,
    "norm_num_groups": 4,
    "sample_size": 64,
}
PROMPT_SHAPE = {"tiny": (1, 8, UNET_TINY["cross_attention_dim"]), "full": (1, 77, 1024)}


@dataclass
class Tiling:
    """Tile sizes of the official defaults: VAE encoder (pixels), decoder and UNet (latents).
    The VAE tiles' padding is the official hook's (32 px, 11 latents; see `tiled_vae`)."""

    encoder: int = 1024
    decoder: int = 224
    latent: int = 96
    latent_overlap: int = 32
    #: Shorter LR sides are enlarged to this first (official: 512 / 4, so latents are ≥ 64).
    min_short_side: int = MIN_SHORT_SIDE


#: `--opt` keys → `Tiling` fields.
TILE_OPTIONS = {
    "encoder_tile": "encoder",
    "decoder_tile": "decoder",
    "latent_tile": "latent",
    "latent_overlap": "latent_overlap",
    "min_side": "min_short_side",
}
#: Tiny synthetic models run on CPU in tests: enlarge small inputs only to 16 px, not 128.
TINY_MIN_SIDE = 16
