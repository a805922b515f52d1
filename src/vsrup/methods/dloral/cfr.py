"""Cross-Frame Retrieval (CFR): align the previous frame's latent and fuse it into the current.

Paper §3.2. SpyNet estimates flow from the current to the previous frame on the 1/8-scale input
pair (the latent grid); the previous latent is warped with it; then a thresholded cross-frame
attention (no softmax: weights relu((q·k/√d − t(q)) / 3000) with a threshold t(q) learned per
query) retrieves content from the warped previous latent and adds it to the current latent.

Parameter names equal the official `state_dict_bpp` keys. The official module also carries
`feat_extract`, `weight_predict*`, `reconstruction_feat`, `conv_hr` and `conv_last`: its
forward never calls them, but the checkpoint holds them, so they exist here as parameter
holders (never run) to keep loading strict.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vsrup.nn.spynet import SpyNet, flow_warp

HEADS = 9
EMBED_DIM = 64
LATENT_CHANNELS = 4
#: The official module divides (similarity − threshold) by this constant (not learned).
TEMPERATURE = 3000.0


class CrossFrameAttention(nn.Module):
    """Thresholded multi-head attention from current-latent queries to aligned previous keys."""

    def __init__(
        self,
        channels: int = LATENT_CHANNELS,
        embed_dim: int = EMBED_DIM,
        heads: int = HEADS,
        query_chunk: int = 4096,
    ) -> None:
        super().__init__()
        self.heads, self.embed_dim = heads, embed_dim
        self.query_chunk = query_chunk
        inner = embed_dim * heads
        self.query_conv = nn.Conv2d(channels, inner, 1)
        self.key_conv = nn.Conv2d(channels, inner, 1)
        self.value_conv = nn.Conv2d(channels, inner, 1)
        self.proj_out = nn.Conv2d(inner, channels, 1)
        self.threshold_fc = nn.Linear(embed_dim, 1)

    def forward(self, current: torch.Tensor, previous_aligned: torch.Tensor) -> torch.Tensor:
        """Return current + retrieved content, both (B, C, H, W) latents."""
        b, _, h, w = current.shape
        hw, d = h * w, self.embed_dim
        # Similarities can exceed fp16's range before the division: attend in fp32.
        q = self.query_conv(current).float().view(b, self.heads, d, hw).transpose(2, 3)
        k = self.key_conv(previous_aligned).float().view(b, self.heads, d, hw)
        v = self.value_conv(previous_aligned).float().view(b, self.heads, d, hw).transpose(2, 3)
        fc_w, fc_b = self.threshold_fc.weight.float(), self.threshold_fc.bias.float()
        out = torch.empty_like(q)
        # Rows are independent (no softmax), so chunking the queries bounds memory exactly.
        for s in range(0, hw, self.query_chunk):
            qc = q[:, :, s : s + self.query_chunk]
            sim = torch.matmul(qc, k).div_(math.sqrt(d))
            weights = sim.sub_(F.linear(qc, fc_w, fc_b)).div_(TEMPERATURE).relu_()
            out[:, :, s : s + self.query_chunk] = torch.matmul(weights, v)
        attn = out.transpose(2, 3).reshape(b, self.heads * d, h, w).to(current.dtype)
        return current + self.proj_out(attn)


class _ResBlock(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)


class _UnusedResidualStack(nn.Module):
    """Parameter holder shaped like BasicVSR's ResidualBlocksWithInputConv (never run)."""

    def __init__(self, cin: int, cout: int, blocks: int) -> None:
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.LeakyReLU(0.1),
            nn.Sequential(*(_ResBlock(cout) for _ in range(blocks))),
        )


class CFRModule(nn.Module):
    """SpyNet + cross-frame attention; `mid_channels` only sizes the unused holders."""

    def __init__(self, mid_channels: int = 64, query_chunk: int = 4096) -> None:
        super().__init__()
        self.feat_extract = _UnusedResidualStack(LATENT_CHANNELS, mid_channels, 5)
        self.spynet = SpyNet()
        self.cross_attn_module = CrossFrameAttention(query_chunk=query_chunk)
        self.weight_predict = _UnusedResidualStack(3, mid_channels, 5)
        self.weight_predict_final = _UnusedResidualStack(mid_channels, 1, 1)
        self.reconstruction_feat = _UnusedResidualStack(mid_channels, mid_channels, 5)
        self.conv_hr = nn.Conv2d(64, 64, 3, padding=1)
        self.conv_last = nn.Conv2d(64, LATENT_CHANNELS, 3, padding=1)

    def forward(
        self,
        prev_latent: torch.Tensor,
        cur_latent: torch.Tensor,
        prev_image: torch.Tensor,
        cur_image: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (previous latent warped onto the current frame, fused current latent).

        Images are the pair at latent resolution (1/8 of the ×4 input), in [−1, 1].
        """
        flow = self.spynet(cur_image, prev_image)  # current → previous
        warped = flow_warp(prev_latent, flow.to(prev_latent.dtype))
        return warped, self.cross_attn_module(cur_latent, warped)
