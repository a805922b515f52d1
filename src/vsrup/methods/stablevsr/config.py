"""StableVSR's and DGAF-VSR's presets: the `--opt` choices, and the model configurations for
synthetic weights (`--synthetic-weights tiny|full`) and tests.

"full" is the SD ×4 upscaler layout StableVSR fine-tunes (UNet with 7 input channels: 4 latent
+ 3 LR; VAE with a ×4 latent grid and scaling factor 0.08333), without the noise-level class
embedding (the official pipelines never pass class labels). Real weights bring their own
configs from the snapshot; these are only used for random initialisation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vsrup.errors import UsageError

VAE_SCALING_FACTOR = 0.08333

FULL_UNET: dict[str, Any] = {
    "sample_size": 128,
    "in_channels": 7,
    "out_channels": 4,
    "down_block_types": (
        "DownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
    ),
    "up_block_types": (
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "CrossAttnUpBlock2D",
        "UpBlock2D",
    ),
    "only_cross_attention": (True, True, True, False),
    "block_out_channels": (256, 512, 512, 1024),
    "layers_per_block": 2,
    "attention_head_dim": 8,
    "cross_attention_dim": 1024,
    "use_linear_projection": True,
    "norm_num_groups": 32,
}

TINY_UNET: dict[str, Any] = {
    "sample_size": 16,
    "in_channels": 7,
    "out_channels": 4,
    "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
    "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D"),
    "block_out_channels": (16, 32),
    "layers_per_block": 1,
    "attention_head_dim": 8,
    "cross_attention_dim": 16,
    "use_linear_projection": True,
    "norm_num_groups": 8,
}

FULL_VAE: dict[str, Any] = {
    "in_channels": 3,
    "out_channels": 3,
    "latent_channels": 4,
    "down_block_types": ("DownEncoderBlock2D",) * 3,
    "up_block_types": ("UpDecoderBlock2D",) * 3,
    "block_out_channels": (128, 256, 512),
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "scaling_factor": VAE_SCALING_FACTOR,
}

TINY_VAE: dict[str, Any] = {
    **FULL_VAE,
    "block_out_channels": (8, 8, 16),
    "layers_per_block": 1,
    "norm_num_groups": 4,
}

#: StableVSR's ControlNet: `ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=…)`;
#: two stride-2 convs map the HR RGB guidance onto the ×4-smaller latent grid.
FULL_CONTROLNET_EMBEDDING = (64, 128, 256)
TINY_CONTROLNET_EMBEDDING = (8, 8, 16)

#: The x4 upscaler's noise schedule; the official test scripts sample it with DDPM.
SCHEDULER: dict[str, Any] = {
    "num_train_timesteps": 1000,
    "beta_start": 0.0001,
    "beta_end": 0.02,
    "beta_schedule": "scaled_linear",
    "prediction_type": "v_prediction",
    "clip_sample": False,
    "steps_offset": 1,
    "timestep_spacing": "leading",
}

#: Prompt-embedding length: CLIP's 77 tokens for real sizes, fewer for tiny tests.
FULL_TOKENS = 77
TINY_TOKENS = 4


def unet_config(size: str) -> dict[str, Any]:
    return dict(FULL_UNET if size == "full" else TINY_UNET)


def vae_config(size: str) -> dict[str, Any]:
    return dict(FULL_VAE if size == "full" else TINY_VAE)


def controlnet_embedding(size: str) -> tuple[int, ...]:
    return FULL_CONTROLNET_EMBEDDING if size == "full" else TINY_CONTROLNET_EMBEDDING


@dataclass(frozen=True)
class Choices:
    """Method-specific options from `--opt key=value` (see docs/methods/stablevsr-dgaf.md)."""

    scheduler: str = "ddpm"
    warp: str = "official"
    raft_norm: str = "per_sample"
    flow_batch: int = 2
    flow_updates: int = 12
    conditioning_scale: float = 1.0
    fit: str = "official"

    @classmethod
    def parse(cls, extra: dict[str, Any]) -> Choices:
        allowed = {
            "scheduler": ("ddpm", "ddim"),
            "warp": ("official", "exact"),
            "raft_norm": ("per_sample", "running"),
            "fit": ("official", "pad"),
        }
        values: dict[str, Any] = {}
        for key, raw in extra.items():
            if key in allowed:
                if str(raw) not in allowed[key]:
                    raise UsageError(
                        f"--opt {key}={raw} is not valid", hint=f"use one of {allowed[key]}"
                    )
                values[key] = str(raw)
            elif key in ("flow_batch", "flow_updates", "conditioning_scale"):
                try:
                    values[key] = float(raw) if key == "conditioning_scale" else int(raw)
                except ValueError:
                    raise UsageError(f"--opt {key}={raw} is not a number") from None
            else:
                known = ", ".join([*allowed, "flow_batch", "flow_updates", "conditioning_scale"])
                raise UsageError(f"unknown option --opt {key}", hint=f"known: {known}")
        return cls(**values)
