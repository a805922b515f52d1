"""Pillow's 8-bit Lanczos, for methods whose official pre-processing resizes PIL images.

The official StableVSR/DGAF-VSR (diffusers' `VaeImageProcessor`) and STCDiT scripts resize
uint8 PIL images; Pillow resamples 8-bit images with fixed-point weights and rounds to uint8,
so matching their inputs bit for bit means going through Pillow on the same integers.
"""

from __future__ import annotations

import numpy as np
import torch


def to_uint8_hwc(frames: torch.Tensor) -> np.ndarray:
    """(T, 3, H, W) in [0, 1] → (T, H, W, 3) uint8, rounded."""
    x = frames.detach().float().clamp(0, 1).mul(255).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def lanczos_uint8(frames: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(T, H, W, 3) uint8 → (T, h, w, 3) uint8 with Pillow's Lanczos; `size` is (h, w).
    Unchanged when the size already is `size` (Pillow would copy it as it is)."""
    from PIL import Image

    if frames.shape[1:3] == tuple(size):
        return frames
    resample = Image.Resampling.LANCZOS
    return np.stack([np.asarray(Image.fromarray(f).resize(size[::-1], resample)) for f in frames])


def lanczos_unit(frames: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(T, 3, H, W) in [0, 1] → (T, 3, h, w) in [0, 1], through 8 bits and Pillow's Lanczos,
    on the frames' device."""
    u8 = lanczos_uint8(to_uint8_hwc(frames), size)
    x = torch.from_numpy(np.ascontiguousarray(u8)).permute(0, 3, 1, 2).float() / 255
    return x.to(frames.device)
