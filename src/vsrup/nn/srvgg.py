"""SRVGGNetCompact (Real-ESRGAN's compact model, e.g. realesr-animevideov3).

Keys follow Real-ESRGAN's `srvgg_arch.py`: one `body` list of alternating convs and PReLUs
(`body.0` first conv, `body.1` its PReLU, ..., `body.{2n+2}` the last conv). The network
predicts a residual over a nearest-neighbour upscale of the input.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vsrup.errors import WeightsError
from vsrup.nn.ncnn import Graph
from vsrup.nn.ncnn_map import LayerCursor, put_conv, unwrap_checkpoint


class SRVGGNetCompact(nn.Module):
    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        upscale: int = 4,
    ) -> None:
        super().__init__()
        self.upscale = upscale
        layers: list[nn.Module] = [nn.Conv2d(num_in_ch, num_feat, 3, padding=1)]
        layers.append(nn.PReLU(num_feat))
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, padding=1), nn.PReLU(num_feat)]
        layers.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, padding=1))
        self.body = nn.ModuleList(layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        out = F.pixel_shuffle(out, self.upscale)
        return out + F.interpolate(x, scale_factor=self.upscale, mode="nearest")


def build(config: dict[str, Any]) -> SRVGGNetCompact:
    return SRVGGNetCompact(**config)


def from_ncnn(graph: Graph) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    cursor = LayerCursor(graph, "Convolution", "PReLU")
    state: dict[str, torch.Tensor] = {}
    index = 0
    while True:
        conv = cursor.conv()
        put_conv(state, f"body.{index}", conv)
        index += 1
        if cursor.index < len(cursor.layers) and cursor.layers[cursor.index].type == "PReLU":
            prelu = cursor.take("PReLU")
            state[f"body.{index}.weight"] = torch.from_numpy(prelu.weights["slope"].copy())
            index += 1
        else:
            break
    cursor.done()
    shuffles = graph.of_type("PixelShuffle")
    if len(shuffles) != 1 or index < 5:
        raise cursor.fail("expected a PReLU conv stack ending in one PixelShuffle")
    upscale = int(shuffles[0].get(0, 1))
    nearest = [
        layer
        for layer in graph.of_type("Interp")
        if int(layer.get(0, 0)) == 1 and float(layer.get(1, 1.0)) == float(upscale)
    ]
    if not nearest:
        raise cursor.fail(f"no nearest ×{upscale} skip connection")
    return _config(state, upscale), state


def _config(state: dict[str, torch.Tensor], upscale: int) -> dict[str, Any]:
    convs = sorted(
        int(key.split(".")[1])
        for key, value in state.items()
        if key.startswith("body.") and key.endswith(".weight") and value.dim() == 4
    )
    first, last = state["body.0.weight"], state[f"body.{convs[-1]}.weight"]
    return {
        "num_in_ch": int(first.shape[1]),
        "num_out_ch": int(last.shape[0]) // (upscale * upscale),
        "num_feat": int(first.shape[0]),
        "num_conv": len(convs) - 2,
        "upscale": upscale,
    }


def from_official(raw: Any, upscale: int = 4) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Config and state dict from a Real-ESRGAN SRVGGNetCompact checkpoint (.pth)."""
    state = unwrap_checkpoint(raw)
    if "body.0.weight" not in state:
        raise WeightsError("not an SRVGGNetCompact checkpoint (no body.0.weight)")
    return _config(state, upscale), dict(state)
