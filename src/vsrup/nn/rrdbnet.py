"""RRDBNet (ESRGAN / Real-ESRGAN x4plus generator) in BasicSR's key layout.

`conv_first`, `body.{i}.rdb{1,2,3}.conv{1..5}`, `conv_body`, `conv_up1`, `conv_up2`,
`conv_hr`, `conv_last`. Only the ×4 form (no pixel-unshuffle input) is built here, which is
what the x4plus and x4plus-anime weights are.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vsrup.errors import WeightsError
from vsrup.nn.ncnn import Graph
from vsrup.nn.ncnn_map import ACT_LEAKY, LayerCursor, put_conv, unwrap_checkpoint

RESIDUAL_SCALE = 0.2


def _lrelu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, 0.2)


class ResidualDenseBlock(nn.Module):
    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        for i in range(5):
            out = num_feat if i == 4 else num_grow_ch
            self.add_module(f"conv{i + 1}", nn.Conv2d(num_feat + i * num_grow_ch, out, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [x]
        for i in range(1, 5):
            feats.append(_lrelu(getattr(self, f"conv{i}")(torch.cat(feats, 1))))
        return self.conv5(torch.cat(feats, 1)) * RESIDUAL_SCALE + x


class RRDB(nn.Module):
    def __init__(self, num_feat: int, num_grow_ch: int) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * RESIDUAL_SCALE + x


class RRDBNet(nn.Module):
    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
    ) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(num_in_ch, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*[RRDB(num_feat, num_grow_ch) for _ in range(num_block)])
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        for conv in (self.conv_up1, self.conv_up2):
            feat = _lrelu(conv(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(_lrelu(self.conv_hr(feat)))


def build(config: dict[str, Any]) -> RRDBNet:
    return RRDBNet(**config)


def from_ncnn(graph: Graph) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    cursor = LayerCursor(graph, "Convolution")
    n_conv = len(cursor.layers)
    if n_conv < 21 or (n_conv - 6) % 15:
        raise cursor.fail(f"{n_conv} convolutions do not make 6 + 15·k RRDBNet layers")
    state: dict[str, torch.Tensor] = {}
    put_conv(state, "conv_first", cursor.conv())
    for b in range((n_conv - 6) // 15):
        for r in (1, 2, 3):
            for c in range(1, 6):
                layer = cursor.conv(act=ACT_LEAKY, slope=0.2) if c < 5 else cursor.conv()
                put_conv(state, f"body.{b}.rdb{r}.conv{c}", layer)
    put_conv(state, "conv_body", cursor.conv())
    for name in ("conv_up1", "conv_up2", "conv_hr"):
        put_conv(state, name, cursor.conv(act=ACT_LEAKY, slope=0.2))
    put_conv(state, "conv_last", cursor.conv())
    cursor.done()
    interps = graph.of_type("Interp")
    if len(interps) != 2 or any(int(layer.get(0, 0)) != 1 for layer in interps):
        raise cursor.fail("expected two nearest ×2 upsamplings")
    return _config(state), state


def _config(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("body.")}
    return {
        "num_in_ch": int(state["conv_first.weight"].shape[1]),
        "num_out_ch": int(state["conv_last.weight"].shape[0]),
        "num_feat": int(state["conv_first.weight"].shape[0]),
        "num_block": len(blocks),
        "num_grow_ch": int(state["body.0.rdb1.conv1.weight"].shape[0]),
    }


def from_official(raw: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Config and state dict from a BasicSR RRDBNet ×4 checkpoint (e.g. RealESRGAN_x4plus.pth)."""
    state = unwrap_checkpoint(raw)
    if "conv_first.weight" not in state or "body.0.rdb1.conv1.weight" not in state:
        raise WeightsError("not an RRDBNet checkpoint (no conv_first / body.0.rdb1 weights)")
    if state["conv_first.weight"].shape[1] != 3:
        raise WeightsError("only the ×4 RRDBNet (3 input channels) is supported")
    return _config(state), dict(state)
