"""Validation on held-out clips: the model's output and the degraded input's Lanczos ×4
upscale, both scored against the ground truth with `vsrup metrics`' measures (PSNR-Y,
SSIM-Y, DIS warping error), and a side-by-side picture (Lanczos | model | ground truth) of
each clip's middle frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch


@dataclass(frozen=True)
class HeldOut:
    hr: np.ndarray  # (T, H, W, 3) uint8
    lr: np.ndarray  # (T, H/4, W/4, 3) uint8


def held_out_clips(sampler, pipeline: str, scale: int, limit: int = 4) -> list[HeldOut]:  # noqa: ANN001
    """Centre crops of each source's held-out tail, degraded with a fixed seed."""
    from vsrup.train.data import read_frames
    from vsrup.train.degradations.apply import degrade
    from vsrup.train.seeds import seed_for

    clips = []
    for k, (src, start) in enumerate(sampler.held_out()[:limit]):
        frames = read_frames(src, start, sampler.frames)
        y, x = (src.height - sampler.crop) // 2, (src.width - sampler.crop) // 2
        hr = np.ascontiguousarray(frames[:, y : y + sampler.crop, x : x + sampler.crop])
        rng = np.random.default_rng(seed_for(sampler.seed, k, 3))
        clips.append(HeldOut(hr, degrade(hr, pipeline, scale, rng)))
    return clips


def lanczos(lr: np.ndarray, scale: int) -> np.ndarray:
    h, w = lr.shape[1:3]
    return np.stack(
        [cv2.resize(f, (w * scale, h * scale), interpolation=cv2.INTER_LANCZOS4) for f in lr]
    )


def scores(out: np.ndarray, ref: np.ndarray) -> dict[str, float]:
    from vsrup.metrics.quality import frame_quality
    from vsrup.metrics.temporal import WarpError

    pairs = [frame_quality(o, r) for o, r in zip(out, ref, strict=True)]
    warp = WarpError()
    errors = [e for e in (warp.update(f) for f in out) if e is not None and np.isfinite(e)]
    return {
        "psnr": float(np.mean([p for p, _ in pairs])),
        "ssim": float(np.mean([s for _, s in pairs])),
        "warp_error": float(np.mean(errors)) if errors else float("nan"),
    }


def validate(objective, clips: list[HeldOut], steps: int, seed: int, png: Path) -> dict[str, float]:  # noqa: ANN001
    """Mean scores over the clips for the model and for Lanczos; writes the picture."""
    model_rows, base_rows, strips = [], [], []
    for clip in clips:
        lr = torch.from_numpy(clip.lr).permute(0, 3, 1, 2).float() / 255.0
        out = objective.upscale(lr, steps, seed).clamp(0, 1)
        out_u8 = (out.permute(0, 2, 3, 1).cpu().numpy() * 255.0).round().astype(np.uint8)
        out_u8 = out_u8[:, : clip.hr.shape[1], : clip.hr.shape[2]]
        base = lanczos(clip.lr, objective.scale)
        model_rows.append(scores(out_u8, clip.hr))
        base_rows.append(scores(base, clip.hr))
        mid = len(clip.hr) // 2
        strips.append(np.concatenate([base[mid], out_u8[mid], clip.hr[mid]], axis=1))
    png.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(png), np.concatenate(strips, axis=0)[..., ::-1])
    result = {}
    for prefix, rows in (("", model_rows), ("lanczos_", base_rows)):
        for key in rows[0]:
            result[prefix + key] = float(np.nanmean([r[key] for r in rows]))
    return result
