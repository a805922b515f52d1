"""Colour correction of an upscaled output towards its low-resolution input.

Diffusion upscalers drift in colour (a tint, a brightness shift). `--color-fix` pulls the
output's colours back to the input's while keeping the output's detail:

- "adain": per frame and channel, the output's mean and standard deviation are replaced by the
  input's (adaptive instance normalisation);
- "wavelet": the output's low frequencies (a stack of dilated 3x3 binomial blurs, à trous) are
  replaced by the input's, its high frequencies kept: colours and large-scale tones come from
  the input, texture from the model;
- "none": unchanged.

The input is first resized (bicubic) to the output's size. Frames are (T, C, H, W) in [0, 1];
the result is clamped to [0, 1] and has the output's dtype.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

MODES = ("none", "adain", "wavelet")


def resize_like(reference: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    if reference.shape[-2:] == output.shape[-2:]:
        return reference
    return F.interpolate(
        reference.float(), size=output.shape[-2:], mode="bicubic", align_corners=False
    ).clamp(0, 1)


def adain(
    output: torch.Tensor,
    reference: torch.Tensor,
    eps: float = 1e-5,
    *,
    eps_in_variance: bool = False,
) -> torch.Tensor:
    """Match each frame's per-channel mean/std to the reference's (same size not needed).

    Standard deviations are the unbiased ones. By default the output's is clamped at `eps`
    before dividing (not std + eps), which keeps identical content exactly unchanged. With
    `eps_in_variance`, both are sqrt(var + eps) instead: StableSR's formula, which DLoRAL's
    official code uses, computed in the same order so its 8-bit results match.
    """
    x = output.float()
    r = reference.float()
    x_mean, r_mean = x.mean(dim=(-2, -1), keepdim=True), r.mean(dim=(-2, -1), keepdim=True)
    if eps_in_variance:
        x_std = (x.var(dim=(-2, -1), keepdim=True) + eps).sqrt()
        r_std = (r.var(dim=(-2, -1), keepdim=True) + eps).sqrt()
        return (x - x_mean) / x_std * r_std + r_mean
    x_std, r_std = x.std(dim=(-2, -1), keepdim=True), r.std(dim=(-2, -1), keepdim=True)
    return (x - x_mean) * (r_std / x_std.clamp_min(eps)) + r_mean


def _blur(x: torch.Tensor, dilation: int) -> torch.Tensor:
    """3x3 binomial blur with holes (à trous) and replicated borders, channel by channel."""
    k1 = torch.tensor([0.25, 0.5, 0.25], dtype=x.dtype, device=x.device)
    kernel = (k1[:, None] * k1[None, :]).expand(x.shape[1], 1, 3, 3)
    padded = F.pad(x, (dilation,) * 4, mode="replicate")
    return F.conv2d(padded, kernel, groups=x.shape[1], dilation=dilation)


def split_frequencies(x: torch.Tensor, levels: int = 5) -> tuple[torch.Tensor, torch.Tensor]:
    """(high, low) with high + low == x: low is `levels` successive à-trous blurs."""
    low = x
    for i in range(levels):
        low = _blur(low, 2**i)
    return x - low, low


def wavelet(output: torch.Tensor, reference: torch.Tensor, levels: int = 5) -> torch.Tensor:
    """Output's high frequencies over the reference's low frequencies."""
    high, _ = split_frequencies(output.float(), levels)
    _, low = split_frequencies(reference.float(), levels)
    return high + low


def color_fix(output: torch.Tensor, reference: torch.Tensor, mode: str = "none") -> torch.Tensor:
    """Correct `output` (T, C, H, W) towards `reference` (T, C, h, w), the method's input."""
    if mode == "none":
        return output
    if mode not in MODES:
        raise ValueError(f"unknown colour fix {mode!r}: use one of {', '.join(MODES)}")
    if output.shape[0] != reference.shape[0] or output.shape[1] != reference.shape[1]:
        raise ValueError(
            f"colour fix needs matching frames and channels: {tuple(output.shape)} vs "
            f"{tuple(reference.shape)}"
        )
    ref = resize_like(reference.to(output.device), output)
    fixed = adain(output, ref) if mode == "adain" else wavelet(output, ref)
    return fixed.clamp(0, 1).to(output.dtype)
