"""SimpleGVR's model: a Wan-class DiT fully fine-tuned on [noisy HR latent ; condition].

The condition is the LR latent upsampled by 3-D conv → bilinear → 3-D conv (paper §3) and
noise-augmented. Initialising from a text-to-video checkpoint widens the patch embedding: the
first 16 input channels keep the T2V weights, the condition channels start at zero, so the
untrained model is exactly the T2V model on the noisy latent.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from diffusers import WanTransformer3DModel
from diffusers.configuration_utils import ConfigMixin, register_to_config
from diffusers.models.modeling_utils import ModelMixin
from torch import nn

from vsrup.methods.simplegvr.attention import AttentionPattern
from vsrup.methods.simplegvr.processor import PatternAttnProcessor


class LatentUpsampler(ModelMixin, ConfigMixin):
    """3-D conv → bilinear (spatial, per frame) → 3-D conv, at any integer or fractional scale."""

    @register_to_config
    def __init__(self, channels: int = 16, hidden: int = 128) -> None:
        super().__init__()
        self.conv_in = nn.Conv3d(channels, hidden, 3, padding=1)
        self.conv_out = nn.Conv3d(hidden, channels, 3, padding=1)

    def forward(self, latent: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        x = F.silu(self.conv_in(latent))
        b, c, f, h, w = x.shape
        x = x.permute(0, 2, 1, 3, 4).reshape(b * f, c, h, w)
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
        x = x.reshape(b, f, c, *size).permute(0, 2, 1, 3, 4)
        # choice: a residual path to the plain bilinear upsample, so the condition is sensible
        # before training (the paper does not say whether one exists).
        plain = (
            F.interpolate(
                latent.permute(0, 2, 1, 3, 4).reshape(b * f, -1, h, w), size=size, mode="bilinear"
            )
            .reshape(b, f, -1, *size)
            .permute(0, 2, 1, 3, 4)
        )
        return plain + self.conv_out(x)


def widen_from_t2v(t2v: WanTransformer3DModel, condition_channels: int) -> WanTransformer3DModel:
    """A copy of a T2V transformer whose patch embedding also takes the condition channels."""
    config = dict(t2v.config)
    config["in_channels"] = t2v.config.in_channels + condition_channels
    config["out_channels"] = t2v.config.out_channels or t2v.config.in_channels
    wide = WanTransformer3DModel.from_config(config)
    state = t2v.state_dict()
    w = state["patch_embedding.weight"]
    extra = torch.zeros(w.shape[0], condition_channels, *w.shape[2:], dtype=w.dtype)
    state["patch_embedding.weight"] = torch.cat([w, extra], dim=1)
    wide.load_state_dict(state)
    return wide


class SimpleGVRModel(nn.Module):
    def __init__(
        self,
        transformer: WanTransformer3DModel,
        upsampler: LatentUpsampler,
        pattern: AttentionPattern,
    ) -> None:
        super().__init__()
        self.transformer = transformer
        self.upsampler = upsampler
        self.set_pattern(pattern)

    def set_pattern(self, pattern: AttentionPattern) -> None:
        """Switch every self-attention layer to `pattern` (dense = diffusers' own processor)."""
        self.pattern = pattern
        self.processors = [
            PatternAttnProcessor(i, pattern) for i in range(len(self.transformer.blocks))
        ]
        for block, proc in zip(self.transformer.blocks, self.processors):
            block.attn1.set_processor(proc)

    def forward(
        self,
        noisy: torch.Tensor,
        timestep: torch.Tensor,
        prompt_embeds: torch.Tensor,
        condition: torch.Tensor,
    ) -> torch.Tensor:
        p_t, p_h, p_w = self.transformer.config.patch_size
        grid = (noisy.shape[2] // p_t, noisy.shape[3] // p_h, noisy.shape[4] // p_w)
        for proc in self.processors:
            proc.grid = grid
        x = torch.cat([noisy, condition.to(noisy.dtype)], dim=1)
        return self.transformer(x, timestep, prompt_embeds, return_dict=False)[0]
