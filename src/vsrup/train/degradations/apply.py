"""One entry point for every clip-level pipeline: HR clip + seed → LR clip."""

from __future__ import annotations

import numpy as np

from vsrup.errors import UsageError
from vsrup.train.degradations import PIPELINES


def bicubic(hr: np.ndarray, scale: int) -> np.ndarray:
    """The classic "BI" LR: antialiased bicubic, as `vsrup degrade` without options."""
    from vsrup.bench.degrade import downscale

    lr = [downscale(f.astype(np.float32) / 255.0, scale, "bicubic") for f in hr]
    return np.clip(np.rint(np.stack(lr) * 255.0), 0, 255).astype(np.uint8)


def degrade(hr: np.ndarray, pipeline: str, scale: int, rng: np.random.Generator) -> np.ndarray:
    """(T, H, W, 3) uint8, H and W multiples of `scale` → (T, H/scale, W/scale, 3) uint8."""
    if pipeline == "bicubic":
        return bicubic(hr, scale)
    if pipeline == "realworld":
        from vsrup.train.degradations.realworld import degrade_clip

        return degrade_clip(hr, scale, rng)
    if pipeline == "aigc-flow":
        from vsrup.train.degradations.aigc_flow import degrade_clip

        # SimpleGVR degrades the downscaled (512p-like) video, as the T2V model outputs it.
        return degrade_clip(bicubic(hr, scale), rng)
    raise UsageError(f"unknown degradation {pipeline!r}", hint=f"use one of {', '.join(PIPELINES)}")
