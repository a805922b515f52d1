"""Blend windows shared by the spatial tiler (engine) and the temporal latent tiler (nn.wan)."""

from __future__ import annotations

import math

import torch


def gaussian_window(size: int) -> torch.Tensor:
    """1-D Gaussian over a whole tile, variance 0.01 in units of the tile size (StableSR)."""
    var = 0.01
    mid = (size - 1) / 2
    x = torch.arange(size, dtype=torch.float64)
    return torch.exp(-((x - mid) ** 2) / (size * size) / (2 * var)) / math.sqrt(2 * math.pi * var)
