"""Temporal latent tiles with gaussian blending (the spatial half is engine.tiles).

Tile placement follows the official STCDiT/DiffSynth "LocalAttention3D" loop: starts every
`int(kernel·stride)` frames, a start that would run past the end is moved back flush with it,
and repeats are merged. Each tile is weighted by the same gaussian window the spatial tiler uses
(variance 0.01 of the tile length squared), so blending is a product of 1-D windows.
"""

from __future__ import annotations

import torch

from vsrup.util.windows import gaussian_window


def tile_starts(length: int, kernel: int, stride: float) -> list[int]:
    """Starts of tiles of `kernel` frames covering [0, length) (kernel clipped to length)."""
    kernel = min(kernel, length)
    if kernel == length:
        return [0]
    step = max(1, int(kernel * stride))
    return sorted({min(s, length - kernel) for s in range(0, length, step)})


def stride_overlap(kernel: int, stride: float) -> int:
    """Overlap in frames/pixels between neighbours for a kernel and a stride ratio."""
    return kernel - max(1, int(kernel * stride))


def temporal_window(size: int) -> torch.Tensor:
    """(size,) float64 gaussian blend weights for one temporal tile."""
    return gaussian_window(size)
