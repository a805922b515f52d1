"""SPyNet optical flow (Ranjan & Black, CVPR 2017), in the BasicVSR / mmagic variant.

Six pyramid levels, each a five-layer 7×7 conv stack refining the flow of the level below; no
batch norm. Parameter names follow the mmagic checkpoints (`basic_module.<level>.basic_module.
<layer>.conv.*`) so official weights load as they are. Inputs are RGB in the range the caller
trained with; they are normalised with ImageNet statistics (the `mean`/`std` buffers).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

LEVELS = 6
_CHANNELS = (8, 32, 64, 32, 16, 2)


def flow_warp(
    x: torch.Tensor, flow: torch.Tensor, padding_mode: str = "zeros", mode: str = "bilinear"
) -> torch.Tensor:
    """Sample `x` (N, C, H, W) at pixel + `flow` (N, 2, H, W; x then y offsets, in pixels)."""
    _, _, h, w = x.shape
    gy, gx = torch.meshgrid(
        torch.arange(h, device=x.device, dtype=x.dtype),
        torch.arange(w, device=x.device, dtype=x.dtype),
        indexing="ij",
    )
    px = gx + flow[:, 0]
    py = gy + flow[:, 1]
    # align_corners=True: pixel centres 0 and size-1 map to -1 and 1.
    grid = torch.stack((2.0 * px / max(w - 1, 1) - 1.0, 2.0 * py / max(h - 1, 1) - 1.0), dim=3)
    return F.grid_sample(
        x, grid.to(x.dtype), mode=mode, padding_mode=padding_mode, align_corners=True
    )


class _ConvAct(nn.Module):
    """A conv with an optional ReLU, named like mmcv's ConvModule (`.conv`)."""

    def __init__(self, cin: int, cout: int, relu: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 7, padding=3)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        return F.relu(x) if self.relu else x


class SpyNetLevel(nn.Module):
    """One pyramid level: [reference, warped support, current flow] (8 ch) → flow residue."""

    def __init__(self) -> None:
        super().__init__()
        pairs = list(zip(_CHANNELS[:-1], _CHANNELS[1:]))
        self.basic_module = nn.Sequential(
            *(_ConvAct(a, b, relu=i < len(pairs) - 1) for i, (a, b) in enumerate(pairs))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.basic_module(x)


class SpyNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.basic_module = nn.ModuleList(SpyNetLevel() for _ in range(LEVELS))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

    def _pyramid_flow(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        n, _, h, w = ref.shape
        refs = [(ref - self.mean) / self.std]
        supps = [(supp - self.mean) / self.std]
        for _ in range(LEVELS - 1):
            refs.append(F.avg_pool2d(refs[-1], 2, 2, count_include_pad=False))
            supps.append(F.avg_pool2d(supps[-1], 2, 2, count_include_pad=False))
        refs, supps = refs[::-1], supps[::-1]
        flow = ref.new_zeros(n, 2, h // 2 ** (LEVELS - 1), w // 2 ** (LEVELS - 1))
        for level, module in enumerate(self.basic_module):
            if level == 0:
                up = flow
            else:
                up = F.interpolate(flow, scale_factor=2, mode="bilinear", align_corners=True) * 2.0
            warped = flow_warp(supps[level], up, padding_mode="border")
            flow = up + module(torch.cat([refs[level], warped, up], dim=1))
        return flow

    def forward(self, ref: torch.Tensor, supp: torch.Tensor) -> torch.Tensor:
        """Flow (N, 2, H, W) from `ref` to `supp`: `flow_warp(supp, flow)` aligns supp to ref."""
        h, w = ref.shape[-2:]
        m = 2 ** (LEVELS - 1)
        hu, wu = -(-h // m) * m, -(-w // m) * m
        ref_u = F.interpolate(ref, size=(hu, wu), mode="bilinear", align_corners=False)
        supp_u = F.interpolate(supp, size=(hu, wu), mode="bilinear", align_corners=False)
        flow = F.interpolate(
            self._pyramid_flow(ref_u, supp_u), size=(h, w), mode="bilinear", align_corners=False
        )
        scale = torch.tensor([w / wu, h / hu], dtype=flow.dtype, device=flow.device)
        return flow * scale.view(1, 2, 1, 1)
