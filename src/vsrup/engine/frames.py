"""The engine's frame forms and the few conversions between them.

Decoded frames travel as (C, H, W) uint8 (8-bit sources) or uint16 (deeper sources, full
16-bit scale) tensors, usually channels-last views of the decoder's packed RGB buffer. They are
turned into float32 in [0, 1] only where something needs floats (a learned method, the colour
fix, a temporal blend), and integer outputs reach the encoder without a float round trip.
"""

from __future__ import annotations

import numpy as np
import torch

#: Full-scale value of each integer frame dtype.
_PEAK = {torch.uint8: 255.0, torch.uint16: 65535.0}


def is_integer(x: torch.Tensor) -> bool:
    return x.dtype in _PEAK


def to_unit_float(x: torch.Tensor) -> torch.Tensor:
    """Integer frames → contiguous float32 in [0, 1] (one pass); float frames unchanged."""
    peak = _PEAK.get(x.dtype)
    if peak is None:
        return x
    src = x.to(torch.int32) if x.dtype == torch.uint16 else x  # few uint16 kernels in torch
    out = torch.empty(x.shape, dtype=torch.float32, device=x.device)
    out.copy_(src)
    return out.mul_(1.0 / peak)


def stack_frames(frames: list[torch.Tensor]) -> torch.Tensor:
    """Stack (C, H, W) frames into (T, C, H, W). Integer channels-last views stay channels
    last (stacked as (T, H, W, C) then viewed), so no transposing copy is made."""
    first = frames[0]
    if is_integer(first) and first.dim() == 3 and first.stride(0) == 1:
        return torch.stack([f.permute(1, 2, 0) for f in frames]).permute(0, 3, 1, 2)
    return torch.stack(frames)


def integer_hwc(frames: torch.Tensor, bits: int) -> np.ndarray:
    """(T, C, H, W) integer frames → (T, H, W, C) numpy uint8 (bits 8) or uint16 (deeper),
    rescaled when the source depth differs from the output's (8 → 16: ×257, exact;
    16 → 8: rounded). A channels-last input comes back without a copy."""
    x = frames.detach().to("cpu")
    want = torch.uint8 if bits <= 8 else torch.uint16
    if x.dtype != want:
        wide = x.to(torch.int32)
        x = (wide * 257 if want == torch.uint16 else (wide + 128) // 257).to(want)
    hwc = x.permute(0, 2, 3, 1)
    return hwc.numpy() if hwc.is_contiguous() else np.ascontiguousarray(hwc.numpy())


def integer_chw(hwc: np.ndarray) -> torch.Tensor:
    """A decoded (H, W, 3) uint8/uint16 array → a (C, H, W) view of it (no copy)."""
    return torch.from_numpy(hwc).permute(2, 0, 1)
