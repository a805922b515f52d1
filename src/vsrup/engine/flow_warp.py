"""Optical-flow helpers of the temporal stage and the metrics: the DIS presets, band-wise
bilinear upsampling of input-size planes to output size, sampling at flow positions, and flow
lengths."""

from __future__ import annotations

import cv2
import numpy as np

#: OpenCV DIS optical-flow presets by name (the stage's `preset`, the metrics' `dis_preset`).
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

#: Output rows blended together (`TemporalStabilizer._blend`): a band of a 4K frame's buffers
#: is a few MB, so it stays in cache while every past output is folded in.
BAND_ROWS = 32


class BandUpsampler:
    """Bilinear upsampling of input-size planes (flows, weights) to output size, one band of
    output rows at a time, giving the rows of cv2.resize of the whole plane: at a whole-number
    ratio by resizing the band's input rows with one row of margin each side (cropped: exact),
    otherwise by sampling at the positions cv2.resize uses (fixed-point, within 1/32 px)."""

    def __init__(self, in_size: tuple[int, int], out_size: tuple[int, int]) -> None:
        (self.in_h, self.in_w), (self.out_h, self.out_w) = in_size, out_size
        self.sy = self.out_h // self.in_h
        self.whole = self.out_h == self.sy * self.in_h and self.out_w % self.in_w == 0
        self.band = self.sy * max(1, BAND_ROWS // self.sy) if self.whole else BAND_ROWS
        self.y0, self.rows = 0, 0
        if not self.whole:
            at = np.empty((self.band, self.out_w, 2), np.float32)
            at[..., 0] = (np.arange(self.out_w, dtype=np.float32) + 0.5) * (
                self.in_w / self.out_w
            ) - 0.5
            self._at = at
            self._maps = (np.empty(at.shape, np.int16), np.empty(at.shape[:2], np.uint16))

    def start(self, y0: int, rows: int) -> None:
        self.y0, self.rows = y0, rows
        if not self.whole:
            at, (xy, frac), sub = self._at, self._maps, slice(0, rows)
            ys = np.arange(y0, y0 + rows, dtype=np.float32)[:, None]
            at[sub, :, 1] = (ys + 0.5) * (self.in_h / self.out_h) - 0.5
            cv2.convertMaps(at[sub], None, cv2.CV_16SC2, dstmap1=xy[sub], dstmap2=frac[sub])

    def __call__(self, plane: np.ndarray, dst: np.ndarray) -> None:
        if not self.whole:
            xy, frac = self._maps
            cv2.remap(plane, xy[: self.rows], frac[: self.rows], cv2.INTER_LINEAR, dst=dst,
                      borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
            return
        first = max(0, self.y0 // self.sy - 1)
        last = min(self.in_h, (self.y0 + self.rows) // self.sy + 1)
        part = cv2.resize(plane[first:last], (self.out_w, (last - first) * self.sy),
                          interpolation=cv2.INTER_LINEAR)  # fmt: skip
        skip = self.y0 - first * self.sy
        np.copyto(dst, part[skip : skip + self.rows])


def remap_at(image: np.ndarray, where: np.ndarray, interp: int = cv2.INTER_LINEAR) -> np.ndarray:
    """Sample `image` at (x, y) positions `where` (h, w, 2), edges replicated."""
    return cv2.remap(image, where, None, interp, borderMode=cv2.BORDER_REPLICATE)


def squared_length(v: np.ndarray) -> np.ndarray:
    """|v|² of (h, w, 2) vectors: the same values as np.sum(v**2, axis=-1), in a third of its
    time (a reduction over a last axis of 2 is numpy's slow path)."""
    x, y = v[..., 0], v[..., 1]
    return x * x + y * y


def inside(where: np.ndarray, w: int, h: int) -> np.ndarray:
    x, y = where[..., 0], where[..., 1]
    return ((x >= 0) & (x <= w - 1) & (y >= 0) & (y <= h - 1)).astype(np.float32)


__all__ = ["BAND_ROWS", "DIS_PRESETS", "BandUpsampler", "inside", "remap_at", "squared_length"]
