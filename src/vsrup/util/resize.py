"""Resize primitives: nearest, bicubic and a separable Lanczos-3 resample, on any device.

Lanczos is a gather-and-weight resample (the same kernel ffmpeg's and Pillow's lanczos use), so
it runs on the GPU too; bicubic is PyTorch's (a = -0.75, like OpenCV's INTER_CUBIC). The
classical methods and the engine's exact-size step both use these.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _lanczos_kernel(x: torch.Tensor, a: int = 3) -> torch.Tensor:
    x = x.abs()
    out = torch.sinc(x) * torch.sinc(x / a)
    return torch.where(x < a, out, torch.zeros_like(out))


def lanczos_weights(
    n_in: int, n_out: int, a: int = 3, device: torch.device | str = "cpu"
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (n_out, K) and normalised weights (n_out, K) for resampling n_in → n_out.

    Pixel centres are aligned (half-pixel convention). When downscaling the kernel is
    stretched by the ratio so the result is antialiased, as in Pillow and ffmpeg.
    """
    ratio = n_in / n_out
    support = a * max(ratio, 1.0)
    centres = (torch.arange(n_out, dtype=torch.float64, device=device) + 0.5) * ratio - 0.5
    taps = int(math.ceil(support)) * 2 + 1
    first = torch.floor(centres - support + 1).long()
    idx = first[:, None] + torch.arange(taps, device=device)[None, :]
    stretch = max(ratio, 1.0)
    w = _lanczos_kernel((idx.double() - centres[:, None]) / stretch, a)
    w = w / w.sum(dim=1, keepdim=True)
    return idx.clamp(0, n_in - 1), w


def _band_matrix(
    n_in: int, n_out: int, device: torch.device | str
) -> tuple[torch.Tensor, torch.Tensor]:
    """The resampling as a dense (n_out, n_in) matrix (clamped taps accumulate at the edges)
    plus the tap indices, which give each output row's band of non-zero columns."""
    idx, w = lanczos_weights(n_in, n_out, device=device)
    m = torch.zeros(n_out, n_in, dtype=torch.float64, device=device)
    rows = torch.arange(n_out, device=device)[:, None].expand_as(idx)
    m.index_put_((rows.reshape(-1), idx.reshape(-1)), w.reshape(-1), accumulate=True)
    return m, idx


def _upscale_axis_polyphase(x: torch.Tensor, dim: int, s: int, a: int = 3) -> torch.Tensor:
    """Integer upscaling along H (dim=-2) or W (dim=-1) by polyphase filtering.

    For n_out = s * n_in every output phase p uses the same 2a+1 weights at the same offsets,
    so each phase is a weighted sum of shifted views of the edge-replicated input (no index
    gather, no K-times-larger temporary), interleaved at the end. Same numbers as the gather
    path (edge replication = its index clamping), several times faster.
    """
    centres = (torch.arange(s, dtype=torch.float64) + 0.5) / s - 0.5
    taps = 2 * a + 1
    first = torch.floor(centres - a + 1).long()  # per-phase offset of the first tap
    k = first[:, None] + torch.arange(taps)[None, :]
    w = _lanczos_kernel(k.double() - centres[:, None], a)
    w = (w / w.sum(dim=1, keepdim=True)).tolist()
    lo, hi = int(-first.min()), int(first.max()) + taps - 1
    shape = x.shape
    n = shape[dim]
    pad = (lo, hi, 0, 0) if dim == -1 else (0, 0, lo, hi)
    xp = F.pad(x.reshape(-1, 1, shape[-2], shape[-1]), pad, mode="replicate")
    xp = xp.reshape(*shape[:-2], *xp.shape[-2:])
    phases = []
    for p in range(s):
        acc = xp.narrow(dim, int(first[p]) + lo, n) * w[p][0]
        for t in range(1, taps):
            acc.add_(xp.narrow(dim, int(first[p]) + lo + t, n), alpha=w[p][t])
        phases.append(acc)
    y = torch.stack(phases, dim=dim)  # (..., n, s) for W, (..., n, s, W) for H
    if dim == -1:
        return y.reshape(*shape[:-1], n * s)
    return y.reshape(*shape[:-2], n * s, shape[-1])


def _resample_axis(x: torch.Tensor, dim: int, n_out: int, block: int = 128) -> torch.Tensor:
    """Resample dim -2 or -1 as banded matrix products, `block` output rows at a time.

    Each block only touches the input rows its taps reach, so the work stays proportional to
    the number of taps while BLAS does the arithmetic: several times faster than gathering K
    shifted copies, with the same weights (sums in the input dtype).
    """
    last = dim in (-1, x.dim() - 1)
    n_in = x.shape[dim]
    if last and n_out % n_in == 0 and n_out > n_in:
        # Integer upscaling along rows: shifted views beat a wide band (measured on CPU).
        return _upscale_axis_polyphase(x, -1, n_out // n_in)
    m, idx = _band_matrix(x.shape[dim], n_out, x.device)
    m = m.to(x.dtype)
    shape = (*x.shape[:-1], n_out) if last else (*x.shape[:-2], n_out, x.shape[-1])
    out = torch.empty(shape, dtype=x.dtype, device=x.device)
    for o0 in range(0, n_out, block):
        o1 = min(o0 + block, n_out)
        lo, hi = int(idx[o0:o1].min()), int(idx[o0:o1].max()) + 1
        if last:  # rows of x times the band's columns: (..., H, L) @ (L, b)
            out[..., o0:o1] = torch.matmul(x[..., lo:hi], m[o0:o1, lo:hi].T)
        else:  # the band's rows times rows of x: (b, L) @ (..., L, W)
            out[..., o0:o1, :] = torch.matmul(m[o0:o1, lo:hi], x[..., lo:hi, :])
    return out


def lanczos_resize(x: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Resize (..., H, W) with a Lanczos-3 kernel, separably (height first)."""
    if x.shape[-2] != height:
        x = _resample_axis(x, x.dim() - 2, height)
    if x.shape[-1] != width:
        x = _resample_axis(x, x.dim() - 1, width)
    return x


def resize(x: torch.Tensor, height: int, width: int, kernel: str) -> torch.Tensor:
    """Resize (T, C, H, W) frames with `kernel` in {nearest, bicubic, lanczos}; no clamping
    is done here except for kernels that overshoot (bicubic, lanczos)."""
    if x.shape[-2:] == (height, width):
        return x
    if kernel == "nearest":
        return F.interpolate(x, size=(height, width), mode="nearest-exact")
    if kernel == "bicubic":
        down = height < x.shape[-2] or width < x.shape[-1]
        y = F.interpolate(
            x, size=(height, width), mode="bicubic", align_corners=False, antialias=down
        )
        return y.clamp(0, 1)
    if kernel == "lanczos":
        return lanczos_resize(x, height, width).clamp_(0, 1)
    raise ValueError(f"unknown resize kernel {kernel!r}")
