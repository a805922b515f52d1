"""Frames in the form the writer's encoder takes: (T, H, W, 3) uint8 (8-bit output) or uint16
(deeper), contiguous, padded on the right/bottom by repeating the edge to the encoded size."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # only the float path needs torch; encoding integers does not
    import torch


def quantized_frames(frames: torch.Tensor, deep: bool, enc_w: int, enc_h: int) -> np.ndarray:
    """(T, C, H, W) float → contiguous (T, H, W, 3) uint8/uint16, padded to the encoded
    size: one float pass (scale, round, clamp) and one integer copy into HWC order."""
    import torch

    peak = 65535.0 if deep else 255.0
    x = frames.detach().to("cpu", torch.float32)
    q = (x * peak).add_(0.5).clamp_(0, peak)
    pad_w, pad_h = enc_w - frames.shape[-1], enc_h - frames.shape[-2]
    if pad_w or pad_h:
        q = torch.nn.functional.pad(q, (0, pad_w, 0, pad_h), mode="replicate")
    t, _, h, w = q.shape
    hwc = torch.empty((t, h, w, 3), dtype=torch.int32 if deep else torch.uint8)
    hwc.copy_(q.permute(0, 2, 3, 1))  # float → int truncates: rounding was the +0.5
    if deep:
        return hwc.numpy().astype(np.uint16)
    return hwc.numpy()


def padded_arrays(
    arrays: np.ndarray, count: int, width: int, height: int, deep: bool, encoded: tuple[int, int]
) -> np.ndarray:
    """Quantised (T, H, W, 3) frames checked against the writer (`count` timestamps, its
    size and sample type) and padded to the `encoded` (width, height)."""
    want = np.uint16 if deep else np.uint8
    if arrays.ndim != 4 or arrays.shape[1:] != (height, width, 3):
        raise ValueError(f"arrays are {arrays.shape}, writer expects (T, {height}, {width}, 3)")
    if arrays.shape[0] != count:
        raise ValueError(f"{arrays.shape[0]} frames but {count} timestamps")
    if arrays.dtype != want:
        raise ValueError(f"arrays are {arrays.dtype}, this writer needs {np.dtype(want)}")
    pad_w, pad_h = encoded[0] - width, encoded[1] - height
    if pad_w or pad_h:
        arrays = np.pad(arrays, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    return np.ascontiguousarray(arrays)
