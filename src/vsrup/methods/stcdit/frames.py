"""STCDiT's frame pre- and post-processing, as the official inference script does it.

Official `load_video` + `save_video` (Inference/utils.py), on 8-bit frames with PIL:
1. each frame is resized ×s with PIL Lanczos (uint8 → uint8);
2. if that size is not a multiple of 16, it is resized again, down to the multiple of 16
   below (PIL Lanczos), which is the size the model works at;
3. the model's output in [-1, 1] becomes uint8 by `((x + 1) · 127.5).clip(0, 255)` and a
   truncating cast (not rounding);
4. frames are resized back to the ×s size with PIL Lanczos when step 2 changed it.

Where the official code fails (a side below 16 pixels after ×s would resize to 0) we pad by
reflection to 16 instead and crop afterwards. Inputs deeper than 8 bits are rounded to 8 bits
first, as the official decord loader delivers them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from vsrup.util.pil_resize import lanczos_uint8, to_uint8_hwc


@dataclass(frozen=True)
class Geometry:
    """Sizes of one run: the ×s target and the model's (height, width)."""

    target: tuple[int, int]
    model: tuple[int, int]
    padded: bool  # the fallback (side < 16 after ×s) instead of the official resize


def plan_geometry(height: int, width: int, scale: int) -> Geometry:
    """The sizes the official script uses for (height, width) inputs at ×`scale`."""
    target = (height * scale, width * scale)
    model = (target[0] // 16 * 16, target[1] // 16 * 16)
    if min(model) == 0:
        return Geometry(target, (-(-target[0] // 16) * 16, -(-target[1] // 16) * 16), True)
    return Geometry(target, model, False)


def model_input(frames: torch.Tensor, scale: int) -> tuple[torch.Tensor, Geometry]:
    """(T, 3, H, W) in [0, 1] → (T, 3, H', W') in [0, 1] at the model's size, plus the
    geometry `model_output` needs to undo it."""
    from vsrup.engine.tiles import pad_to

    geometry = plan_geometry(frames.shape[-2], frames.shape[-1], scale)
    up = lanczos_uint8(to_uint8_hwc(frames), geometry.target)
    if not geometry.padded:
        up = lanczos_uint8(up, geometry.model)
    x = torch.from_numpy(np.ascontiguousarray(up)).permute(0, 3, 1, 2).float() / 255
    if geometry.padded:
        x, _ = pad_to(x, multiple=16)
    return x.to(frames.device), geometry


def model_output(video: torch.Tensor, geometry: Geometry) -> torch.Tensor:
    """(T, 3, H', W') decoder output in [-1, 1] → (T, 3, H·s, W·s) in [0, 1], on the 8-bit
    grid the official script writes."""
    u8 = ((video.detach().float() + 1) * 127.5).clamp(0, 255).to(torch.uint8)  # truncates
    if geometry.padded:
        u8 = u8[:, :, : geometry.target[0], : geometry.target[1]]
        return u8.float().div(255).to(video.device)
    frames = lanczos_uint8(u8.permute(0, 2, 3, 1).cpu().numpy(), geometry.target)
    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float() / 255
    return x.to(video.device)
