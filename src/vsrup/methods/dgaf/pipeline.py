"""DGAF-VSR inference: StableVSR's loop with latent-space guidance through DGAFNet.

For a guided frame, the previous frame's x0 estimate (a latent, not decoded) is aligned by the
OGWM (nearest ×4 up, warp with the HR flow, nearest ×1/4 down), DGAFNet turns
[x_t, LR, aligned x0] into additions, and the UNet runs with them (`inject.py`). The VAE is
only used for the final decode.
"""

from __future__ import annotations

from typing import Any

import torch

from vsrup.methods.dgaf.inject import unet_forward_with_additions
from vsrup.methods.stablevsr.pipeline import FlowGuidedPipeline
from vsrup.nn.warp import latent_warp
from vsrup.util.timing import StageTimer


class DGAFPipeline(FlowGuidedPipeline):
    def __init__(self, *args: Any, dgafnet: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.dgafnet = dgafnet

    def guided(
        self, inp: torch.Tensor, t: torch.Tensor, x0_prev: torch.Tensor, flow: torch.Tensor
    ) -> torch.Tensor:
        cond = latent_warp(x0_prev, flow.to(x0_prev.dtype), 4, convention=self.warp)
        emb = self.prompt_embeds.to(inp.dtype)
        with StageTimer("denoise"):
            down, mid, up = self.dgafnet(inp, t, cond.to(inp.dtype), self.conditioning_scale)
            return unet_forward_with_additions(self.unet, inp, t, emb, down, mid, up)
