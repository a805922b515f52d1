"""Helpers that map an ncnn Graph's weight layers onto PyTorch state-dict keys.

Each architecture module (span, srvgg, rrdbnet, upconv7) walks the graph's weight layers in
order, checks that every layer looks like the one its own model has at that position (kernel,
stride, padding, fused activation), and hands the tensors out under its PyTorch key names.
The strict load of the resulting state dict then checks every shape.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch

from vsrup.errors import WeightsError
from vsrup.nn.ncnn import Graph, Layer

#: ncnn's fused activation codes (param 9 of Convolution/Deconvolution).
ACT_NONE, ACT_RELU, ACT_LEAKY = 0, 1, 2


class LayerCursor:
    """Walks the layers of given types in file order, checking each one as it is taken."""

    def __init__(self, graph: Graph, *types: str) -> None:
        self.graph = graph
        self.layers = graph.of_type(*types)
        self.index = 0

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers[self.index :])

    def fail(self, message: str) -> WeightsError:
        text = f"unexpected ncnn graph for this model: {message}"
        return WeightsError(text, path=self.graph.path)

    def take(self, kind: str) -> Layer:
        if self.index >= len(self.layers):
            raise self.fail(f"ran out of layers looking for a {kind}")
        layer = self.layers[self.index]
        if layer.type != kind:
            raise self.fail(f"layer {layer.name!r} is a {layer.type}, expected a {kind}")
        self.index += 1
        return layer

    def conv(
        self,
        *,
        kernel: int = 3,
        stride: int = 1,
        pad: int = 1,
        act: int = ACT_NONE,
        slope: float | None = None,
        kind: str = "Convolution",
    ) -> Layer:
        layer = self.take(kind)
        kw = int(layer.get(1, 0))
        got = (
            kw,
            int(layer.get(11, kw)),
            int(layer.get(3, 1)),
            int(layer.get(13, layer.get(3, 1))),
            int(layer.get(4, 0)),
            int(layer.get(9, 0)),
            int(layer.get(2, 1)),
        )
        want = (kernel, kernel, stride, stride, pad, act, 1)
        if got != want:
            raise self.fail(
                f"layer {layer.name!r} has (kernel_w, kernel_h, stride_w, stride_h, pad, act, "
                f"dilation) = {got}, expected {want}"
            )
        if slope is not None:
            params = layer.get(10, [])
            got_slope = params[0] if isinstance(params, list) and params else None
            if got_slope is None or abs(float(got_slope) - slope) > 1e-6:
                raise self.fail(f"layer {layer.name!r} has slope {got_slope}, expected {slope}")
        if "bias" not in layer.weights:
            raise self.fail(f"layer {layer.name!r} has no bias")
        return layer

    def done(self) -> None:
        if self.index != len(self.layers):
            extra = ", ".join(layer.name for layer in self.layers[self.index : self.index + 3])
            raise self.fail(f"{len(self.layers) - self.index} weight layers left over ({extra})")


def put_conv(state: dict[str, torch.Tensor], prefix: str, layer: Layer) -> None:
    state[f"{prefix}.weight"] = torch.from_numpy(layer.weights["weight"].copy())
    state[f"{prefix}.bias"] = torch.from_numpy(layer.weights["bias"].copy())


def unwrap_checkpoint(state: Any) -> dict[str, torch.Tensor]:
    """The tensors of a training checkpoint: BasicSR nests them under params_ema/params."""
    if isinstance(state, dict):
        for key in ("params_ema", "params", "state_dict", "model"):
            inner = state.get(key)
            if isinstance(inner, dict) and inner:
                state = inner
                break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError("the checkpoint is not a state dict of tensors")
    # Checkpoints saved from DataParallel prefix every key with "module.".
    return {k.removeprefix("module."): v for k, v in state.items()}
