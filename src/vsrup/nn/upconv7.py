"""waifu2x's upconv_7: six unpadded 3×3 convs and a 4×4 stride-2 transposed conv (×2).

Keys follow nunif's PyTorch port (`net.0` ... `net.12`, activations in between). Without
padding the network shrinks its input by 7 pixels on each side of the low-resolution frame,
so callers pad by 7 first (waifu2x replicates the border pixels).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vsrup.errors import WeightsError
from vsrup.nn.ncnn import Graph
from vsrup.nn.ncnn_map import ACT_LEAKY, LayerCursor, put_conv, unwrap_checkpoint

#: Low-resolution pixels the network consumes on each side.
OFFSET = 7
CHANNELS = (16, 32, 64, 128, 128, 256)


class UpConv7(nn.Module):
    def __init__(self, in_channels: int = 3, out_channels: int = 3) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_channels
        for ch in CHANNELS:
            layers += [nn.Conv2d(prev, ch, 3), nn.LeakyReLU(0.1)]
            prev = ch
        layers.append(nn.ConvTranspose2d(prev, out_channels, 4, stride=2, padding=3))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) → (N, C, 2H - 28, 2W - 28): the input must carry the 7 px border."""
        return self.net(x)


def build(config: dict[str, Any]) -> UpConv7:
    return UpConv7(**config)


def from_ncnn(graph: Graph) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    cursor = LayerCursor(graph, "Convolution", "Deconvolution")
    state: dict[str, torch.Tensor] = {}
    for i in range(len(CHANNELS)):
        put_conv(state, f"net.{2 * i}", cursor.conv(pad=0, act=ACT_LEAKY, slope=0.1))
    deconv = cursor.conv(kernel=4, stride=2, pad=3, kind="Deconvolution")
    put_conv(state, f"net.{2 * len(CHANNELS)}", deconv)
    cursor.done()
    return _config(state), state


def _config(state: dict[str, torch.Tensor]) -> dict[str, Any]:
    return {
        "in_channels": int(state["net.0.weight"].shape[1]),
        "out_channels": int(state[f"net.{2 * len(CHANNELS)}.weight"].shape[1]),
    }


def from_official(raw: Any) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Config and state dict from a nunif-layout upconv_7 checkpoint."""
    state = unwrap_checkpoint(raw)
    if "net.0.weight" not in state or f"net.{2 * len(CHANNELS)}.weight" not in state:
        raise WeightsError("not an upconv_7 checkpoint (no net.0/net.12 weights)")
    return _config(state), dict(state)
