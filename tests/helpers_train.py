"""Helpers for the training tests: a small data folder and tiny batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from vsrup.video.synth import make_clip, make_frames


def data_dir(root: Path, frames: int = 12, size: tuple[int, int] = (160, 144)) -> Path:
    """A folder with one generated clip (lossless) and one folder of PNG frames."""
    import cv2

    d = root / "data"
    (d / "seq").mkdir(parents=True)
    make_clip(d / "a.mkv", width=size[0], height=size[1], frames=frames, codec="ffv1")
    for i, f in enumerate(make_frames(size[0], size[1], frames, seed=5)):
        cv2.imwrite(str(d / "seq" / f"{i:04d}.png"), f[..., ::-1])
    return d


def tiny_batch(frames: int, crop: int, batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(HR, bicubic LR) batches of generated panning clips, (B, T, 3, H, W) in [0, 1]."""
    from vsrup.train.degradations.apply import bicubic

    hr = [make_frames(crop, crop, frames, seed=i) for i in range(batch)]
    lr = [bicubic(h, 4) for h in hr]

    def stack(a: list[np.ndarray]) -> torch.Tensor:
        return torch.from_numpy(np.stack(a)).permute(0, 1, 4, 2, 3).float() / 255.0

    return stack(hr), stack(lr)
