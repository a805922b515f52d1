"""Optical flow between consecutive frames, as both official pipelines compute it.

Flows are estimated once, before sampling, on the LR frames (in [−1, 1]) upscaled ×4 with
bicubic interpolation: f_i warps frame i−1 onto frame i, b_i warps frame i onto frame i−1.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn.functional as F


class FlowModel(Protocol):
    def __call__(
        self, image1: torch.Tensor, image2: torch.Tensor, num_flow_updates: int = 12
    ) -> torch.Tensor: ...


def upscale_for_flow(lr: torch.Tensor) -> torch.Tensor:
    """Bicubic ×4 (align_corners=False), no clamping, as the official pipelines do."""
    return F.interpolate(lr, scale_factor=4, mode="bicubic", align_corners=False)


def compute_flows(
    model: FlowModel, frames: torch.Tensor, batch: int = 2, updates: int = 12
) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Forward [f_1 … f_{N−1}] and backward [b_1 … b_{N−1}] flows, each (1, H, W, 2).

    f_i = flow(target=frame i, source=frame i−1); b_i = flow(target=i−1, source=i). Pairs are
    run `batch` at a time (our RAFT normalises its context per sample, so batching does not
    change the result). `updates` is RAFT's number of refinement iterations (12 officially).
    """
    n = frames.shape[0]
    targets = torch.cat([frames[1:], frames[:-1]], dim=0)
    sources = torch.cat([frames[:-1], frames[1:]], dim=0)
    out = []
    for s in range(0, targets.shape[0], max(batch, 1)):
        flow = model(targets[s : s + batch], sources[s : s + batch], updates)
        out.append(flow.permute(0, 2, 3, 1).float())
    flows = torch.cat(out, dim=0) if out else frames.new_zeros((0, *frames.shape[-2:], 2))
    fwd = [flows[i : i + 1] for i in range(n - 1)]
    bwd = [flows[n - 1 + i : n + i] for i in range(n - 1)]
    return fwd, bwd
