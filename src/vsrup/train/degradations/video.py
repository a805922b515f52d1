"""A training pipeline over a whole video, for `vsrup degrade --pipeline`: the frames are
degraded in consecutive clips of a fixed length, clip k with the seed training would give
sample k, so memory stays bounded and the result is reproducible from `--seed`."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np


def clip_pairs(
    frames: Iterator[np.ndarray], pipeline: str, scale: int, seed: int, clip: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (gt, lr) uint8 pairs; the GT is cropped to a multiple of the scale."""
    from vsrup.bench.degrade import gt_size
    from vsrup.metrics.frames import as_u8
    from vsrup.train.degradations.apply import degrade
    from vsrup.train.seeds import seed_for

    def flush(buffer: list[np.ndarray], k: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        hr = np.stack(buffer)
        lr = degrade(hr, pipeline, scale, np.random.default_rng(seed_for(seed, k, 1)))
        yield from zip(hr, lr, strict=True)

    buffer: list[np.ndarray] = []
    k = 0
    for frame in map(as_u8, frames):
        w, h = gt_size(frame.shape[1], frame.shape[0], scale)
        buffer.append(np.ascontiguousarray(frame[:h, :w]))
        if len(buffer) == clip:
            yield from flush(buffer, k)
            buffer, k = [], k + 1
    if buffer:
        yield from flush(buffer, k)
