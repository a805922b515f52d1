"""Backward warping with a dense optical flow, as StableVSR and DGAF-VSR use it.

A flow `(N, H, W, 2)` (x displacement first, in pixels) says where in the source each target
pixel comes from: `out[y, x] = src[y + v, x + u]`.

Two conventions:

- ``official`` (the default for StableVSR/DGAF, so the official weights see what they were
  trained with): the pixel grid is normalised with ``2·g/(W−1) − 1`` but sampled with
  ``align_corners=False``. The two do not match, so the pixel actually read is
  ``(x + u)·W/(W−1) − 0.5``: a zero flow is a slight zoom with a half-pixel shift, and zeros
  come in at one border.
- ``exact``: the normalisation that matches ``align_corners=False`` (``(2·g + 1)/W − 1``), so a
  zero flow is the identity and a known translation is undone to within interpolation error.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

WARP_CONVENTIONS = ("official", "exact")


def _base_grid(h: int, w: int, like: torch.Tensor) -> torch.Tensor:
    ys, xs = torch.meshgrid(
        torch.arange(h, device=like.device), torch.arange(w, device=like.device), indexing="ij"
    )
    return torch.stack((xs, ys), dim=-1).to(like.dtype)  # (H, W, 2), x first


def flow_warp(
    x: torch.Tensor,
    flow: torch.Tensor,
    mode: str = "bilinear",
    padding_mode: str = "zeros",
    convention: str = "official",
) -> torch.Tensor:
    """Warp `x` (N, C, H, W) by `flow` (N, H, W, 2); see the module docstring for conventions."""
    if x.shape[-2:] != flow.shape[1:3]:
        raise ValueError(f"flow {tuple(flow.shape)} does not match the image {tuple(x.shape)}")
    h, w = x.shape[-2:]
    g = _base_grid(h, w, x) + flow.to(x.dtype)
    if convention == "official":
        gx = 2.0 * g[..., 0] / max(w - 1, 1) - 1.0
        gy = 2.0 * g[..., 1] / max(h - 1, 1) - 1.0
    elif convention == "exact":
        gx = (2.0 * g[..., 0] + 1.0) / w - 1.0
        gy = (2.0 * g[..., 1] + 1.0) / h - 1.0
    else:
        raise ValueError(f"unknown warp convention {convention!r}; use one of {WARP_CONVENTIONS}")
    grid = torch.stack((gx, gy), dim=-1)
    return F.grid_sample(x, grid, mode=mode, padding_mode=padding_mode, align_corners=False)


def latent_warp(
    z: torch.Tensor, flow: torch.Tensor, factor: int = 4, convention: str = "official"
) -> torch.Tensor:
    """DGAF's OGWM: nearest ×factor up, warp with the high-resolution flow, nearest ×1/factor.

    For an integer factor the final nearest down-sampling reads pixel (f·i, f·j) of each
    f×f block, exactly like ``F.interpolate(scale_factor=1/f, mode='nearest')``.
    """
    up = F.interpolate(z, scale_factor=factor, mode="nearest")
    warped = flow_warp(up, flow, "bilinear", convention=convention)
    return F.interpolate(warped, scale_factor=1.0 / factor, mode="nearest")
