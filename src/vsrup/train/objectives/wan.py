"""Shared by the Wan-based objectives: where their installed weights are, VAE encoding of
clips and flow-matching noising. Their components come from the methods' own builders
(`methods/<id>/pipeline.py`), random at a synthetic size or from the installed base."""

from __future__ import annotations

from pathlib import Path

import torch

from vsrup.nn.wan.vae import encode_normalised


def installed(model_id: str) -> Path:
    """The installed copy of registry entry `model_id` (WeightsError with the download
    command when it is not installed)."""
    from vsrup.hub.resolve import resolve_ids

    return resolve_ids([model_id])[model_id]


@torch.no_grad()
def encode_clips(vae: torch.nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """(B, T, 3, H, W) in [0, 1] → normalised latents (B, C, F, H/s, W/s), one clip at a time
    (the causal Wan VAE's memory grows with the batch), posterior mode as at inference."""
    return torch.cat([encode_normalised(vae, clip) for clip in clips])


def flow_noise(clean: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Rectified flow: x_t = (1 − t)·x0 + t·ε, t per sample in [0, 1]."""
    tt = t.view(-1, *([1] * (clean.dim() - 1))).to(clean.dtype)
    return (1 - tt) * clean + tt * noise
