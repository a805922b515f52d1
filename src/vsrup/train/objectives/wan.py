"""Shared by the two Wan-based objectives: VAE encoding of clips and flow-matching noising."""

from __future__ import annotations

import torch

from vsrup.nn.wan.vae import latent_stats, pad_frames_4k1


@torch.no_grad()
def encode_clips(vae: torch.nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """(B, T, 3, H, W) in [0, 1] → normalised latents (B, C, F, H/s, W/s), one clip at a time
    (the causal Wan VAE's memory grows with the batch), posterior mode as at inference."""
    out = []
    for clip in clips:
        video, _ = pad_frames_4k1((clip.float() * 2 - 1).permute(1, 0, 2, 3).unsqueeze(0))
        mean, std = latent_stats(vae, video)
        out.append((vae.encode(video).latent_dist.mode() - mean) / std)
    return torch.cat(out)


def flow_noise(clean: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Rectified flow: x_t = (1 − t)·x0 + t·ε, t per sample in [0, 1]."""
    tt = t.view(-1, *([1] * (clean.dim() - 1))).to(clean.dtype)
    return (1 - tt) * clean + tt * noise
