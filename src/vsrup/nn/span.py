"""SPAN (Swift Parameter-free Attention Network, Wan et al. 2024), inference form.

State-dict keys follow the official BasicSR implementation, restricted to what inference
uses: each re-parameterisable Conv3XC is stored as its fused 3×3 `eval_conv`
(`conv_1.eval_conv.weight`, `block_1.c1_r.eval_conv.weight`, ...). Training checkpoints keep
the unfused branches (`sk`, `conv.0/1/2`) too; `from_official` fuses them the way the
original does at eval time, and ncnn exports only ever contain the fused convolution.

The input is normalised as in the original, `(x - rgb_mean) * img_range`, and the output is
used as is (the original does not undo the normalisation).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vsrup.errors import WeightsError
from vsrup.nn.ncnn import Graph
from vsrup.nn.ncnn_map import LayerCursor, put_conv, unwrap_checkpoint

DIV2K_MEAN = (0.4488, 0.4371, 0.4040)
N_BLOCKS = 6


class Conv3XC(nn.Module):
    """A re-parameterised 3×3 conv block; only its fused form is kept for inference."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.eval_conv = nn.Conv2d(c_in, c_out, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.eval_conv(x)


class SPAB(nn.Module):
    """Parameter-free attention block: three convs, attention = sigmoid(out3) - 0.5."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.c1_r = Conv3XC(channels, channels)
        self.c2_r = Conv3XC(channels, channels)
        self.c3_r = Conv3XC(channels, channels)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # The original's SiLU is in place, so the "first conv" output it returns for the
        # final concatenation is the activated one.
        out1 = F.silu(self.c1_r(x))
        out2 = F.silu(self.c2_r(out1))
        out3 = self.c3_r(out2)
        attention = torch.sigmoid(out3) - 0.5
        return (out3 + x) * attention, out1


class SPAN(nn.Module):
    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        feature_channels: int = 48,
        upscale: int = 4,
        img_range: float = 255.0,
        rgb_mean: tuple[float, ...] = DIV2K_MEAN,
    ) -> None:
        super().__init__()
        self.upscale = upscale
        self.img_range = float(img_range)
        # Not a state-dict entry (as in the original): it belongs to the config.
        self.register_buffer(
            "mean", torch.tensor(rgb_mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False
        )
        self.conv_1 = Conv3XC(num_in_ch, feature_channels)
        for i in range(1, N_BLOCKS + 1):
            self.add_module(f"block_{i}", SPAB(feature_channels))
        self.conv_cat = nn.Conv2d(feature_channels * 4, feature_channels, 1)
        self.conv_2 = Conv3XC(feature_channels, feature_channels)
        self.upsampler = nn.Sequential(
            nn.Conv2d(feature_channels, num_out_ch * upscale * upscale, 3, padding=1),
            nn.PixelShuffle(upscale),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x - self.mean.to(x.dtype)) * self.img_range
        feat = self.conv_1(x)
        out, _ = self.block_1(feat)
        out_b1 = out
        for i in range(2, N_BLOCKS):
            out, _ = getattr(self, f"block_{i}")(out)
        out_b6, out_b5_2 = getattr(self, f"block_{N_BLOCKS}")(out)
        out_b6 = self.conv_2(out_b6)
        out = self.conv_cat(torch.cat([feat, out_b6, out_b1, out_b5_2], 1))
        return self.upsampler(out)


def build(config: dict[str, Any]) -> SPAN:
    return SPAN(**config)


def _conv3xc_names() -> list[str]:
    names = ["conv_1"]
    for i in range(1, N_BLOCKS + 1):
        names += [f"block_{i}.c1_r", f"block_{i}.c2_r", f"block_{i}.c3_r"]
    return [*names, "conv_2"]


def from_ncnn(graph: Graph) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Config and state dict from an ncnn export of SPAN (order: conv_1, blocks, conv_2,
    conv_cat, upsampler, as the exporter writes them)."""
    cursor = LayerCursor(graph, "Convolution")
    state: dict[str, torch.Tensor] = {}
    for name in _conv3xc_names():
        put_conv(state, f"{name}.eval_conv", cursor.conv())
    put_conv(state, "conv_cat", cursor.conv(kernel=1, pad=0))
    up = cursor.conv()
    put_conv(state, "upsampler.0", up)
    cursor.done()
    if len(graph.of_type("Sigmoid")) != N_BLOCKS or len(graph.of_type("Swish")) != 2 * N_BLOCKS:
        raise cursor.fail("expected 6 attention blocks (6 Sigmoid, 12 Swish layers)")
    shuffles = graph.of_type("PixelShuffle")
    if len(shuffles) != 1:
        raise cursor.fail("expected one PixelShuffle")
    upscale = int(shuffles[0].get(0, 1))
    # Input normalisation: data - MemoryData(mean), then optionally * img_range.
    mean_layers = graph.of_type("MemoryData")
    rgb_mean = (
        tuple(float(v) for v in mean_layers[0].weights["data"].reshape(-1))
        if mean_layers
        else (0.0, 0.0, 0.0)
    )
    img_range = 1.0
    for layer in graph.of_type("BinaryOp"):
        # op 2 = multiply, with_scalar = 1: the img_range factor right after the mean.
        if int(layer.get(0, 0)) == 2 and int(layer.get(1, 0)) == 1:
            img_range = float(layer.get(2, 1.0))
            break
    config = {
        "num_in_ch": int(state["conv_1.eval_conv.weight"].shape[1]),
        "num_out_ch": int(up.weights["weight"].shape[0]) // (upscale * upscale),
        "feature_channels": int(state["conv_1.eval_conv.weight"].shape[0]),
        "upscale": upscale,
        "img_range": img_range,
        "rgb_mean": list(rgb_mean),
    }
    return config, state


def fuse_conv3xc(parts: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Fuse a training-form Conv3XC (1×1 → 3×3 → 1×1, plus a 1×1 skip) into one 3×3 conv.

    The three chained convs are linear, so the composite kernel is
    W[o,i] = Σ_m Σ_n w3[o,m] · w2[m,n] · w1[n,i] (per 3×3 tap), and the biases of the inner
    convs flow through the later ones; the skip adds to the centre tap.
    """
    w1 = parts["conv.0.weight"].double()[:, :, 0, 0]  # (n, i)
    w2 = parts["conv.1.weight"].double()  # (m, n, 3, 3)
    w3 = parts["conv.2.weight"].double()[:, :, 0, 0]  # (o, m)
    b1, b2, b3 = (parts[f"conv.{k}.bias"].double() for k in range(3))
    weight = torch.einsum("om,mnyx,ni->oiyx", w3, w2, w1)
    inner_bias = b2 + torch.einsum("mnyx,n->m", w2, b1)
    bias = b3 + w3 @ inner_bias
    weight[:, :, 1, 1] += parts["sk.weight"].double()[:, :, 0, 0]
    bias = bias + parts["sk.bias"].double()
    return weight.float(), bias.float()


def from_official(
    raw: Any, rgb_mean: tuple[float, ...] = DIV2K_MEAN, img_range: float = 255.0
) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Config and state dict from an official SPAN checkpoint (.pth, BasicSR layout)."""
    source = unwrap_checkpoint(raw)
    state: dict[str, torch.Tensor] = {}
    for name in _conv3xc_names():
        branch = {k[len(name) + 1 :]: v for k, v in source.items() if k.startswith(name + ".")}
        if "sk.weight" in branch:
            try:
                weight, bias = fuse_conv3xc(branch)
            except KeyError as exc:
                raise WeightsError(f"SPAN checkpoint: {name} lacks {exc}") from None
        elif "eval_conv.weight" in branch:
            weight, bias = branch["eval_conv.weight"], branch["eval_conv.bias"]
        else:
            raise WeightsError(f"SPAN checkpoint: no weights for {name}")
        state[f"{name}.eval_conv.weight"], state[f"{name}.eval_conv.bias"] = weight, bias
    for key in ("conv_cat.weight", "conv_cat.bias", "upsampler.0.weight", "upsampler.0.bias"):
        if key not in source:
            raise WeightsError(f"SPAN checkpoint: missing {key}")
        state[key] = source[key]
    # Spandrel-style checkpoints mark models trained without normalisation.
    if "no_norm" in source:
        rgb_mean, img_range = (0.0, 0.0, 0.0), 1.0
    feat = int(state["conv_1.eval_conv.weight"].shape[0])
    out_ch_sq = int(state["upsampler.0.weight"].shape[0])
    num_in = int(state["conv_1.eval_conv.weight"].shape[1])
    upscale = next((s for s in (1, 2, 3, 4, 8) if out_ch_sq == num_in * s * s), 0)
    if not upscale:
        upscale = int(math.isqrt(out_ch_sq // 3))
    config = {
        "num_in_ch": num_in,
        "num_out_ch": out_ch_sq // (upscale * upscale),
        "feature_channels": feat,
        "upscale": upscale,
        "img_range": img_range,
        "rgb_mean": list(rgb_mean),
    }
    return config, state
