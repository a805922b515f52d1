"""Blend windows shared by the spatial tiler (engine) and the temporal latent tiler (nn.wan)."""

from __future__ import annotations

import math

import torch


def gaussian_window(size: int, mid: float | None = None) -> torch.Tensor:
    """1-D Gaussian over a whole tile, variance 0.01 in units of the tile size (StableSR),
    centred on the tile (or at `mid`)."""
    var = 0.01
    mid = (size - 1) / 2 if mid is None else mid
    x = torch.arange(size, dtype=torch.float64)
    return torch.exp(-((x - mid) ** 2) / (size * size) / (2 * var)) / math.sqrt(2 * math.pi * var)
