"""Per-frame fidelity: PSNR and SSIM on the luma (Y) channel, as the SR literature reports them.

Luma follows ITU-R BT.601 in "studio" range, the convention of MATLAB's `rgb2ycbcr` that SR
papers (and BasicSR's `test_y_channel`) use: with R, G, B in [0, 1],

    Y = 16 + 65.481 R + 128.553 G + 24.966 B        (Y in [16, 235])

and PSNR/SSIM are computed on that Y with a peak of 255. Y is kept in float64: no rounding.

SSIM is Wang et al. (2004): an 11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03,
population (not sample) covariances, and the SSIM map averaged over the pixels whose window lies
fully inside the image (5 px trimmed per side). This equals scikit-image's
`structural_similarity(..., gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
data_range=255)` and BasicSR's `calculate_ssim`.

An optional `crop` (usually the scale factor) drops that many pixels from every side first, as
the SR benchmarks do, so padding artefacts at the borders are not scored.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

#: PSNR is capped here: identical frames have an infinite PSNR, which would make every average
#: infinite and is not valid JSON. 100 dB is an MSE below 6.5e-6 on a 0..255 scale, far below
#: one 8-bit quantisation step, so no real difference is ever reported at the cap.
PSNR_CAP_DB = 100.0

_BT601 = np.array([65.481, 128.553, 24.966])
_WINDOW = cv2.getGaussianKernel(11, 1.5, cv2.CV_64F)
_C1 = (0.01 * 255) ** 2
_C2 = (0.03 * 255) ** 2


def to_unit_rgb(frame: np.ndarray) -> np.ndarray:
    """(H, W, 3) RGB as float64 in [0, 1]: uint8/uint16 are divided by their maximum."""
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB frame, got shape {frame.shape}")
    if frame.dtype == np.uint8:
        return frame.astype(np.float64) / 255.0
    if frame.dtype == np.uint16:
        return frame.astype(np.float64) / 65535.0
    return frame.astype(np.float64)


def rgb_to_y(frame: np.ndarray) -> np.ndarray:
    """BT.601 studio-range luma (float64, 16..235) of an RGB frame."""
    return 16.0 + to_unit_rgb(frame) @ _BT601


def crop_border(plane: np.ndarray, crop: int) -> np.ndarray:
    if crop <= 0:
        return plane
    if 2 * crop >= min(plane.shape[:2]):
        raise ValueError(
            f"border crop {crop} leaves nothing of a {plane.shape[1]}x{plane.shape[0]} frame"
        )
    return plane[crop:-crop, crop:-crop]


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR in dB between two planes of the same shape, capped at `PSNR_CAP_DB`."""
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    if mse == 0.0:
        return PSNR_CAP_DB
    return min(PSNR_CAP_DB, 10.0 * math.log10(peak * peak / mse))


def _blur(x: np.ndarray) -> np.ndarray:
    return cv2.sepFilter2D(x, cv2.CV_64F, _WINDOW, _WINDOW, borderType=cv2.BORDER_REFLECT)


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM between two single-channel planes on a 0..255 scale (see module docstring)."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if min(a.shape) < 11:
        raise ValueError(
            f"SSIM needs frames of at least 11x11 pixels, got {a.shape[1]}x{a.shape[0]}"
        )
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    mu_a, mu_b = _blur(a), _blur(b)
    var_a = _blur(a * a) - mu_a * mu_a
    var_b = _blur(b * b) - mu_b * mu_b
    cov = _blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + _C1) * (2 * cov + _C2)
    den = (mu_a * mu_a + mu_b * mu_b + _C1) * (var_a + var_b + _C2)
    # Only pixels whose 11x11 window lies inside the image: the border mode then never matters.
    return float((num / den)[5:-5, 5:-5].mean())


def frame_quality(out: np.ndarray, ref: np.ndarray, crop: int = 0) -> tuple[float, float]:
    """(PSNR-Y, SSIM-Y) of one output frame against its reference frame."""
    y_out = crop_border(rgb_to_y(out), crop)
    y_ref = crop_border(rgb_to_y(ref), crop)
    return psnr(y_out, y_ref), ssim(y_out, y_ref)
