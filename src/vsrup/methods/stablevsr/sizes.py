"""Frame sizes for StableVSR / DGAF-VSR: the official pre-processing, or padding.

The official pipelines prepare every LR frame with diffusers' `VaeImageProcessor(
vae_scale_factor=4)`: height and width are rounded DOWN to a multiple of 4 with a Pillow
Lanczos resize of the 8-bit image (nothing happens when they already are multiples), and the
output is 4× that size. `fit="official"` (the default) does the same; the engine's exact-size
resize then brings the output to the size the user asked for (4× the input by default), and
`official_note` tells the user once. `fit="pad"` pads by reflection to the multiple instead
and crops the output, so no pixel is resampled but the frame edge differs from the official
result. Either way sides below `min_size` are padded (the flow network needs ×4 sides of at
least 128 pixels; the official code cannot run those at all).
"""

from __future__ import annotations

import torch

from vsrup.engine.tiles import pad_to
from vsrup.util.pil_resize import lanczos_unit

MULTIPLE = 4  # the VAE's downsampling factor, VaeImageProcessor's vae_scale_factor
FITS = ("official", "pad")


def official_size(height: int, width: int) -> tuple[int, int]:
    """The official pre-processing's LR size: each side rounded down to a multiple of 4 (a
    side below 4 cannot be rounded down and is kept, then padded)."""
    return tuple(s - s % MULTIPLE if s >= MULTIPLE else s for s in (height, width))  # type: ignore[return-value]


def official_note(method_id: str, height: int, width: int, scale: int = 4) -> str | None:
    """The line telling the user that frames of this size are resized, or None."""
    h, w = official_size(height, width)
    if (h, w) == (height, width):
        return None
    return (
        f"{method_id}: {width}×{height} is not a multiple of {MULTIPLE}: frames are resized "
        f"(Lanczos) to {w}×{h} as the official code does; its {w * scale}×{h * scale} output "
        "is resized to any other size asked for (--opt fit=pad pads instead)"
    )


def fit_frames(
    frames: torch.Tensor, fit: str, min_size: int
) -> tuple[torch.Tensor, tuple[int, int]]:
    """(T, 3, H, W) in [0, 1] → the frames the model runs on, and the (h, w) of the LR area
    whose ×4 output to keep (crop the model's output to 4h × 4w)."""
    if fit == "official":
        size = official_size(*frames.shape[-2:])
        if size != tuple(frames.shape[-2:]):
            frames = lanczos_unit(frames, size)
    elif fit != "pad":
        raise ValueError(f"unknown fit {fit!r}; use one of {FITS}")
    return pad_to(frames, MULTIPLE, min_size)
