"""Out-of-memory fallback for every method: start at the whole frame (or the --tile/--vram
tile), halve on `torch.OutOfMemoryError` until it fits, one clear error when nothing fits.
A fault-injection wrapper raises the OOM for inputs larger than a chosen side, so this runs
on CPU, for a method with tiling advice and for two that had none (dloral, stcdit). STCDiT
runs in its windowed mode (`--window`): its official whole-video run never calls `process`
per window and places one tile at a time on the device itself."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from vsrup import methods
from vsrup.engine.pipeline import UNTILED_ADVICE, UpscaleJob, spatial_tile
from vsrup.engine.runtime import Runtime
from vsrup.engine.scheduler import StreamOptions, run_stream
from vsrup.errors import DeviceError
from vsrup.interface.method import MethodOptions


def oom_above(method, limit: int):
    """Make `method.process` raise an OOM for clips wider or taller than `limit` pixels;
    records the sides it saw."""
    seen: list[tuple[int, int]] = []
    real = method.process

    def process(clip):  # noqa: ANN001, ANN202
        h, w = clip.frames.shape[-2:]
        seen.append((h, w))
        if max(h, w) > limit:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(clip)

    method.process = process
    return seen


def build(method_id: str):
    cls = methods.get(method_id)
    short = dataclasses.replace(cls.spec, window=min(cls.spec.window, 5), overlap=0)
    sub = type(cls.__name__, (cls,), {"spec": short})
    steps = 1 if method_id in ("stcdit", "span") else None
    window = 5 if method_id == "stcdit" else None  # per-window calls (see the docstring)
    return sub.from_weights(
        None, Runtime(), MethodOptions(synthetic_weights="tiny", scale=cls.spec.scales[0],
                                       steps=steps, window=window)
    )  # fmt: skip


def frames(n: int, h: int, w: int):
    g = torch.Generator().manual_seed(0)
    return [(torch.rand(3, h, w, generator=g), i) for i in range(n)]


@pytest.mark.parametrize(
    "method_id",
    ["span", pytest.param("stcdit", marks=pytest.mark.slow),
     pytest.param("dloral", marks=pytest.mark.slow)],
)  # fmt: skip
def test_oom_halves_from_the_whole_frame_until_it_fits(method_id):
    method = build(method_id)
    seen = oom_above(method, 44)
    warnings: list[str] = []
    out: list = []
    run_stream(frames(1, 64, 72), method, lambda f, p: out.append(f), None,
               StreamOptions(on_warning=warnings.append))  # fmt: skip
    scale = method.scale
    assert len(out) == 1 and out[0].shape == (64 * scale, 72 * scale, 3)
    assert max(seen[0]) == 72  # the first try is the whole frame, for every method
    assert warnings and "retrying with 36px" in warnings[0]
    assert all(max(s) <= 44 for s in seen[1:])  # then tiles that fit


def test_when_nothing_fits_the_error_is_one_line_naming_what_to_try():
    method = build("dloral")
    oom_above(method, 10)
    with pytest.raises(DeviceError) as err:
        run_stream(frames(1, 64, 72), method, lambda f, p: None, None, StreamOptions())
    text = err.value.render()
    assert "out of device memory even with" in text and "\n" not in text
    assert "--dtype fp16/bf16" in text and "--device cpu" in text


@pytest.mark.parametrize("method_id", ["dloral", "stcdit", "span", "stablevsr"])
def test_vram_sets_the_starting_tile_for_every_method(method_id):
    spec = methods.get(method_id).spec
    small = spatial_tile(spec, UpscaleJob(input="x", output="y", vram=4))
    large = spatial_tile(spec, UpscaleJob(input="x", output="y", vram=48))
    assert small is not None and large is not None and small < large
    assert small < (spec.tile or UNTILED_ADVICE)
    assert spatial_tile(spec, UpscaleJob(input="x", output="y", vram=4, tile=96)) == 96
