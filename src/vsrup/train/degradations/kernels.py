"""Blur kernels of the real-world pipeline (Real-ESRGAN / RealBasicVSR family), from a seed.

Gaussian (isotropic or anisotropic with a rotation), generalised Gaussian (exponent β),
plateau, and the 2-D sinc (ringing) kernel; every kernel is normalised to sum to 1.
"""

from __future__ import annotations

import math

import numpy as np


def _grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    r = np.arange(size, dtype=np.float64) - (size - 1) / 2
    return np.meshgrid(r, r)


def _quadratic_form(size: int, sx: float, sy: float, angle: float) -> np.ndarray:
    """x^T Σ^-1 x over the grid for a rotated diagonal covariance."""
    x, y = _grid(size)
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * x + s * y, -s * x + c * y
    return (u / sx) ** 2 + (v / sy) ** 2


def gaussian(size: int, sx: float, sy: float, angle: float, beta: float = 2.0) -> np.ndarray:
    """Generalised Gaussian exp(-0.5 (x^T Σ^-1 x)^(β/2)); β = 2 is the ordinary one."""
    k = np.exp(-0.5 * _quadratic_form(size, sx, sy, angle) ** (beta / 2))
    return k / k.sum()


def plateau(size: int, sx: float, sy: float, angle: float, beta: float) -> np.ndarray:
    k = 1.0 / (1.0 + _quadratic_form(size, sx, sy, angle) ** (beta / 2))
    return k / k.sum()


def _bessel_j1(x: np.ndarray) -> np.ndarray:
    """J1 by its integral (1/π)∫₀^π cos(τ − x sin τ) dτ (no scipy needed; kernels are small)."""
    tau = np.linspace(0.0, np.pi, 257)
    return np.trapezoid(np.cos(tau - x[..., None] * np.sin(tau)), tau, axis=-1) / np.pi


def sinc(size: int, cutoff: float) -> np.ndarray:
    """Circular low-pass (Airy pattern) with cut-off frequency `cutoff` in radians/pixel."""
    x, y = _grid(size)
    r = np.hypot(x, y)
    with np.errstate(divide="ignore", invalid="ignore"):
        k = cutoff * _bessel_j1(cutoff * r) / (2 * np.pi * r)
    k[r == 0] = cutoff**2 / (4 * np.pi)
    return k / k.sum()


KINDS = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")
#: Real-ESRGAN's kind probabilities (the remaining 0.1 is sinc, chosen separately).
KIND_PROBS = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)


def random_kernel(rng: np.random.Generator, sigma: tuple[float, float], sinc_prob: float = 0.1):
    """One blur kernel: size 7–21 (odd), a random kind, sigmas in `sigma`."""
    size = int(rng.choice(np.arange(7, 22, 2)))
    if rng.random() < sinc_prob:
        cutoff = rng.uniform(np.pi / 3, np.pi) if size < 13 else rng.uniform(np.pi / 5, np.pi)
        return sinc(size, cutoff)
    kind = KINDS[int(rng.choice(len(KINDS), p=np.array(KIND_PROBS) / sum(KIND_PROBS)))]
    sx = rng.uniform(*sigma)
    sy = sx if kind.endswith("iso") and not kind.endswith("aniso") else rng.uniform(*sigma)
    angle = rng.uniform(-np.pi, np.pi) if kind.endswith("aniso") else 0.0
    if kind.startswith("generalized"):
        return gaussian(size, sx, sy, angle, beta=rng.uniform(0.5, 4.0))
    if kind.startswith("plateau"):
        return plateau(size, sx, sy, angle, beta=rng.uniform(1.0, 2.0))
    return gaussian(size, sx, sy, angle)
