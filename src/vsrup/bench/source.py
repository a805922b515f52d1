"""A generated input clip for `vsrup bench --size WxH --length N`: a slow diagonal pan across
a picture with detail at many scales, so methods have edges to work on and motion to track."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def make_bench_clip(path: Path, width: int, height: int, frames: int, fps: int = 24) -> Path:
    """Write the clip losslessly (FFV1/Matroska or x264 RGB at QP 0) and return `path`."""
    from vsrup.bench.degrade import lossless_writer_args
    from vsrup.metrics.frames import RgbWriter

    src = _picture(height + 2 * frames + 2, width + 3 * frames + 3)
    with RgbWriter(path, fps=fps, **lossless_writer_args(path)) as writer:  # type: ignore[arg-type]
        for i in range(frames):
            writer.write(np.ascontiguousarray(src[2 * i : 2 * i + height, 3 * i : 3 * i + width]))
    return path


def _picture(height: int, width: int) -> np.ndarray:
    """Rings, gradients, a checkerboard and fine noise: uint8 RGB."""
    import cv2

    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.hypot(x - width / 2, y - height / 3)
    rings = 0.5 + 0.5 * np.sin(r * r / (max(width, height) * 1.5))
    checks = ((x // 12 + y // 12) % 2).astype(np.float32)
    rng = np.random.default_rng(0)
    grain = cv2.GaussianBlur(rng.random((height, width)).astype(np.float32), (0, 0), 1.2)
    img = np.stack(
        [0.7 * rings + 0.3 * grain, x / width, 0.5 * checks + 0.3 * (y / height) + 0.2 * grain],
        axis=-1,
    )
    return np.clip(img * 255, 0, 255).round().astype(np.uint8)
