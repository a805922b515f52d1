"""RealBasicVSR's second-order real-world degradation, reproducible from a numpy Generator.

Two rounds of: blur → random resize → noise → JPEG → video-codec compression; then the
final resize to exactly 1/scale of the HR size (with a sinc ringing blur, in random order
with the last codec step, as RealBasicVSR shuffles them). Parameter ranges are those of
RealBasicVSR's published configuration. As there, one set of parameters is drawn per clip
(the same blur, scale, codec and quality for every frame), while the noise is drawn per
frame, so the LR clip is temporally coherent like a real degraded video.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vsrup.train.degradations.codec import CODECS, compress
from vsrup.train.degradations.kernels import random_kernel, sinc

INTERPOLATIONS = (cv2.INTER_LINEAR, cv2.INTER_AREA, cv2.INTER_CUBIC)


@dataclass(frozen=True)
class Order:
    """The ranges of one degradation round."""

    blur_prob: float
    blur_sigma: tuple[float, float]
    resize_range: tuple[float, float]
    gaussian_sigma: tuple[float, float]
    poisson_scale: tuple[float, float]


FIRST = Order(1.0, (0.2, 3.0), (0.15, 1.5), (1.0, 30.0), (0.05, 3.0))
SECOND = Order(0.8, (0.2, 1.5), (0.3, 1.2), (1.0, 25.0), (0.05, 2.5))
JPEG_QUALITY = (30, 95)
BITRATE = (10_000, 100_000)


def _filter(clip: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    k = kernel.astype(np.float32)
    return np.stack([cv2.filter2D(f, -1, k, borderType=cv2.BORDER_REFLECT_101) for f in clip])


def _resize(clip: np.ndarray, size: tuple[int, int], interp: int) -> np.ndarray:
    return np.stack([cv2.resize(f, size, interpolation=interp) for f in clip])


def _random_scale(rng: np.random.Generator, lo_hi: tuple[float, float]) -> float:
    mode = rng.choice(3, p=(0.2, 0.7, 0.1))  # up, down, keep
    if mode == 0:
        return float(rng.uniform(1.0, lo_hi[1]))
    if mode == 1:
        return float(rng.uniform(lo_hi[0], 1.0))
    return 1.0


def _noise(clip: np.ndarray, order: Order, rng: np.random.Generator) -> np.ndarray:
    """Gaussian or Poisson noise (half each), grey in 40 % of clips; values in 0..1."""
    gray = rng.random() < 0.4
    if rng.random() < 0.5:
        sigma = rng.uniform(*order.gaussian_sigma) / 255.0
        shape = (*clip.shape[:3], 1) if gray else clip.shape
        return clip + rng.normal(0.0, sigma, size=shape).astype(np.float32)
    scale = rng.uniform(*order.poisson_scale)
    src = clip.mean(axis=3, keepdims=True) if gray else clip
    levels = np.clip(src, 0, 1) * 255.0
    noisy = rng.poisson(levels).astype(np.float32)
    return clip + (noisy - levels) / 255.0 * scale


def _jpeg(clip: np.ndarray, quality: int) -> np.ndarray:
    out = []
    for f in clip:
        u8 = np.clip(np.rint(f * 255.0), 0, 255).astype(np.uint8)
        _, buf = cv2.imencode(".jpg", u8[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])
        out.append(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0)
    return np.stack(out)


def _codec(clip: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    codec = CODECS[int(rng.integers(len(CODECS)))]
    bitrate = int(rng.integers(BITRATE[0], BITRATE[1] + 1))
    u8 = np.clip(np.rint(clip * 255.0), 0, 255).astype(np.uint8)
    return compress(u8, codec, bitrate).astype(np.float32) / 255.0


def _round(clip: np.ndarray, order: Order, base: tuple[int, int], rng: np.random.Generator):
    """One order: blur, resize (relative to `base` = (w, h)), noise, JPEG."""
    if rng.random() < order.blur_prob:
        clip = _filter(clip, random_kernel(rng, order.blur_sigma))
    s = _random_scale(rng, order.resize_range)
    size = (max(int(base[0] * s), 2), max(int(base[1] * s), 2))
    clip = _resize(clip, size, INTERPOLATIONS[int(rng.integers(3))])
    clip = _noise(clip, order, rng)
    return _jpeg(np.clip(clip, 0, 1), int(rng.integers(JPEG_QUALITY[0], JPEG_QUALITY[1] + 1)))


def degrade_clip(hr: np.ndarray, scale: int, rng: np.random.Generator) -> np.ndarray:
    """(T, H, W, 3) uint8 HR clip (H, W multiples of `scale`) → (T, H/s, W/s, 3) uint8 LR."""
    t, h, w, _ = hr.shape
    clip = hr.astype(np.float32) / 255.0
    clip = _round(clip, FIRST, (w, h), rng)
    clip = _codec(clip, rng)
    clip = _round(clip, SECOND, (w // scale, h // scale), rng)
    target = (w // scale, h // scale)

    def final_resize(c: np.ndarray) -> np.ndarray:
        c = _resize(c, target, INTERPOLATIONS[int(rng.integers(3))])
        if rng.random() < 0.8:
            c = _filter(
                c, sinc(int(rng.choice(np.arange(7, 22, 2))), rng.uniform(np.pi / 3, np.pi))
            )
        return c

    if rng.random() < 0.5:
        clip = _codec(final_resize(clip), rng)
    else:
        clip = final_resize(_codec(clip, rng))
    return np.clip(np.rint(clip * 255.0), 0, 255).astype(np.uint8)
