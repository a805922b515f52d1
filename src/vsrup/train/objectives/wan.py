"""Shared by the two Wan-based objectives: VAE encoding of clips and flow-matching noising."""

from __future__ import annotations

import torch

from vsrup.nn.wan.vae import encode_normalised


@torch.no_grad()
def encode_clips(vae: torch.nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """(B, T, 3, H, W) in [0, 1] → normalised latents (B, C, F, H/s, W/s), one clip at a time
    (the causal Wan VAE's memory grows with the batch), posterior mode as at inference."""
    return torch.cat([encode_normalised(vae, clip) for clip in clips])


def flow_noise(clean: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Rectified flow: x_t = (1 − t)·x0 + t·ε, t per sample in [0, 1]."""
    tt = t.view(-1, *([1] * (clean.dim() - 1))).to(clean.dtype)
    return (1 - tt) * clean + tt * noise
