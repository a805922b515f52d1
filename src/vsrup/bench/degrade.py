"""Make a low-resolution / ground-truth pair from any clip, to measure methods on own footage.

The degradation follows the order the SR literature uses (the "BI"/"BD" settings and their
real-world extensions): optional Gaussian blur of the HR frame, downscaling by the scale factor
with a chosen kernel, additive Gaussian noise, per-frame JPEG compression, and finally the
codec the LR video is written with (lossless unless `crf` asks for H.264 compression).

The ground truth is the source frame itself, cropped to a multiple of the scale at the top-left
when the source size is not one (then it must be written out: the original clip no longer
matches the LR frames times the scale).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vsrup.errors import UsageError

KERNELS = ("area", "bicubic", "lanczos")


@dataclass(frozen=True)
class Degradation:
    scale: int = 4
    #: Downscaling kernel: area (box average), bicubic (antialiased, Keys a = -0.5, like
    #: MATLAB's imresize) or lanczos (Lanczos-3, antialiased).
    kernel: str = "bicubic"
    #: Sigma of a Gaussian blur applied to the HR frame before downscaling, in HR pixels.
    blur: float = 0.0
    #: Sigma of additive Gaussian noise on the LR frame, in 8-bit levels (0..255).
    noise: float = 0.0
    #: JPEG quality (1..100) each LR frame is compressed with; None for no JPEG step.
    jpeg: int | None = None
    #: H.264 CRF the LR video is encoded with; None writes it losslessly.
    crf: int | None = None
    seed: int = 0

    def check(self) -> None:
        if self.scale < 1:
            raise UsageError(f"scale must be a positive integer, got {self.scale}")
        if self.kernel not in KERNELS:
            raise UsageError(f"unknown kernel {self.kernel!r}", hint=f"use {', '.join(KERNELS)}")
        if self.blur < 0 or self.noise < 0:
            raise UsageError("blur and noise must not be negative")
        if self.jpeg is not None and not 1 <= self.jpeg <= 100:
            raise UsageError(f"JPEG quality must be within 1..100, got {self.jpeg}")
        if self.crf is not None and not 0 <= self.crf <= 51:
            raise UsageError(f"CRF must be within 0..51, got {self.crf}")

    def describe(self) -> str:
        parts = [f"x{self.scale} {self.kernel}"]
        if self.blur:
            parts.append(f"blur {self.blur:g}")
        if self.noise:
            parts.append(f"noise {self.noise:g}")
        if self.jpeg is not None:
            parts.append(f"jpeg q{self.jpeg}")
        if self.crf is not None:
            parts.append(f"h264 crf {self.crf}")
        return ", ".join(parts)


def gt_size(width: int, height: int, scale: int) -> tuple[int, int]:
    """The largest (width, height) within the source that is a multiple of `scale`."""
    w, h = width - width % scale, height - height % scale
    if w == 0 or h == 0:
        raise UsageError(f"a {width}x{height} clip is too small to downscale by {scale}")
    return w, h


def _cubic(x: np.ndarray, a: float = -0.5) -> np.ndarray:
    """Keys' cubic with a = -0.5 (MATLAB's imresize and Pillow's antialiased bicubic)."""
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, np.where(x < 2, far, 0.0))


def _lanczos3(x: np.ndarray) -> np.ndarray:
    return np.where(np.abs(x) < 3, np.sinc(x) * np.sinc(x / 3), 0.0)


def resample_matrix(n_in: int, n_out: int, kernel: str) -> np.ndarray:
    """(n_out, n_in) weights of an antialiased downscale: the kernel is stretched by the ratio
    (as MATLAB's imresize and Pillow do), pixel centres aligned, edges clamped, rows sum to 1."""
    fn, support = (_cubic, 2.0) if kernel == "bicubic" else (_lanczos3, 3.0)
    ratio = n_in / n_out
    stretch = max(ratio, 1.0)
    centres = (np.arange(n_out) + 0.5) * ratio - 0.5
    taps = int(np.ceil(support * stretch)) * 2 + 1
    first = np.floor(centres - support * stretch + 1).astype(int)
    idx = first[:, None] + np.arange(taps)[None, :]
    w = fn((idx - centres[:, None]) / stretch)
    w /= w.sum(axis=1, keepdims=True)
    m = np.zeros((n_out, n_in))
    np.add.at(m, (np.repeat(np.arange(n_out), taps), np.clip(idx, 0, n_in - 1).ravel()), w.ravel())
    return m


def downscale(rgb: np.ndarray, scale: int, kernel: str) -> np.ndarray:
    """(H, W, 3) float [0, 1] -> (H/scale, W/scale, 3) float [0, 1].

    bicubic and lanczos are separable matrix products (fast on CPU for any frame size);
    overshoot is clipped to [0, 1]."""
    h, w = rgb.shape[0] // scale, rgb.shape[1] // scale
    if kernel == "area":
        return cv2.resize(rgb, (w, h), interpolation=cv2.INTER_AREA)
    mh = resample_matrix(rgb.shape[0], h, kernel).astype(np.float32)
    mw = resample_matrix(rgb.shape[1], w, kernel).astype(np.float32)
    x = rgb.astype(np.float32)
    rows = np.einsum("oh,hwc->owc", mh, x, optimize=True)
    out = np.einsum("pw,owc->opc", mw, rows, optimize=True)
    return np.clip(out, 0.0, 1.0)


def degrade_frame(gt: np.ndarray, deg: Degradation, rng: np.random.Generator) -> np.ndarray:
    """One uint8 GT frame (already a multiple of the scale) -> its uint8 LR frame."""
    hr = gt.astype(np.float32) / 255.0  # float32: float64 resampling is several times slower
    if deg.blur > 0:
        hr = cv2.GaussianBlur(hr, (0, 0), deg.blur, borderType=cv2.BORDER_REFLECT)
    lr = downscale(hr, deg.scale, deg.kernel) * 255.0
    if deg.noise > 0:
        lr = lr + rng.normal(0.0, deg.noise, size=lr.shape)
    out = np.clip(np.rint(lr), 0, 255).astype(np.uint8)
    if deg.jpeg is not None:
        ok, buf = cv2.imencode(".jpg", out[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, deg.jpeg])
        if not ok:
            raise RuntimeError("JPEG encoding failed")
        out = np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
    return out


def degrade_frames(
    frames: Iterator[np.ndarray], deg: Degradation
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (gt, lr) uint8 frame pairs, the GT cropped to a multiple of the scale."""
    from vsrup.metrics.frames import as_u8

    deg.check()
    rng = np.random.default_rng(deg.seed)
    for frame in map(as_u8, frames):  # pairs are 8-bit: 10-bit sources are rounded
        w, h = gt_size(frame.shape[1], frame.shape[0], deg.scale)
        gt = np.ascontiguousarray(frame[:h, :w])
        yield gt, degrade_frame(gt, deg, rng)


def degrade_video(
    src: str | Path,
    lr_path: str | Path,
    deg: Degradation,
    *,
    gt_path: str | Path | None = None,
    start: int = 0,
    stop: int | None = None,
    on_frame: Callable[[int], None] | None = None,
    pairs: Callable[[Iterator[np.ndarray]], Iterator[tuple[np.ndarray, np.ndarray]]] | None = None,
) -> int:
    """Write the LR video (and the GT video when `gt_path` is given); return the frame count.

    Without `gt_path` the source itself is the reference, which only works when its size is a
    multiple of the scale and the whole clip is used; otherwise a UsageError asks for one.
    `pairs` replaces `degrade_frames(frames, deg)` (the training pipelines of `vsrup train`
    come in this way; `deg` then only gives the scale and the LR codec).
    """
    from vsrup.metrics.frames import RgbWriter, read_rgb
    from vsrup.video.probe import probe_video

    deg.check()
    src, lr_path = Path(src), Path(lr_path)
    info = probe_video(src)
    w, h = gt_size(info.width, info.height, deg.scale)
    if gt_path is None and (start > 0 or stop is not None):
        raise UsageError(
            "a frame range makes the source no longer match the LR clip frame for frame",
            hint="pass --gt GT.mkv to also write the matching ground truth",
        )
    if gt_path is None and (w, h) != (info.width, info.height):
        raise UsageError(
            f"{src} is {info.width}x{info.height}, not a multiple of the scale {deg.scale}",
            hint=f"pass --gt GT.mkv to also write the {w}x{h} ground truth",
        )
    count = 0
    lossless = deg.crf is None
    crf = deg.crf if deg.crf is not None else 0
    with RgbWriter(lr_path, fps=info.rate, lossless=lossless, crf=crf) as lr_writer:
        gt_writer = (
            RgbWriter(gt_path, fps=info.rate, lossless=True) if gt_path is not None else None
        )
        try:
            make_pairs = pairs or (lambda frames: degrade_frames(frames, deg))
            for gt, lr in make_pairs(read_rgb(src, start, stop)):
                lr_writer.write(lr)
                if gt_writer is not None:
                    gt_writer.write(gt)
                count += 1
                if on_frame:
                    on_frame(count)
        except BaseException:
            if gt_writer is not None:
                gt_writer.close(ok=False)
            raise
        if gt_writer is not None:
            gt_writer.close()
    return count
