"""Test helpers for metrics, degrade, compare and bench: small textured clips and videos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vsrup.metrics.frames import RgbWriter


def textured(h: int, w: int, seed: int = 0, lo: float = 0.2, hi: float = 0.8) -> np.ndarray:
    """A smooth random RGB image (float64 in [lo, hi]) with detail at several scales."""
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3))
    for sigma, weight in ((0.7, 0.3), (2.0, 0.4), (6.0, 0.3)):
        layer = cv2.GaussianBlur(rng.random((h, w, 3)), (0, 0), sigma)
        layer = (layer - layer.min()) / (np.ptp(layer) + 1e-12)
        img += weight * layer
    return lo + (hi - lo) * img


def to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def panning_clip(n: int, h: int, w: int, step: int = 1, seed: int = 0) -> list[np.ndarray]:
    """n uint8 frames of a texture panning right by `step` pixels per frame."""
    big = to_u8(textured(h, w + step * n, seed))
    return [big[:, step * (n - i) : step * (n - i) + w] for i in range(n)]


def write_lossless(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """Write uint8 RGB frames losslessly (FFV1 in Matroska), so decoding gives them back."""
    with RgbWriter(path, fps=fps, lossless=True) as writer:
        for f in frames:
            writer.write(f)
    return path
