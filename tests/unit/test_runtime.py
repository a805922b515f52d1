"""Runtime helpers: OOM fallback (injected errors), VRAM tile budget, seeding
(compile and offload: test_placement.py)."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from vsrup.engine.runtime import (
    Runtime,
    generator,
    resolve_runtime,
    run_with_oom_fallback,
    seed_everything,
)
from vsrup.engine.tiles import tiled_apply
from vsrup.errors import DeviceError, UsageError


def oom_above(limit: int, calls: list[int]):
    def fn(tile: int) -> str:
        calls.append(tile)
        if tile > limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return f"done at {tile}"

    return fn


def test_oom_halves_the_tile_and_says_so():
    calls: list[int] = []
    told: list[tuple[int, int]] = []
    result = run_with_oom_fallback(
        oom_above(200, calls), 1024, min_tile=64, on_retry=lambda a, b: told.append((a, b))
    )
    assert result == "done at 128"
    assert calls == [1024, 512, 256, 128]
    assert told == [(1024, 512), (512, 256), (256, 128)]


def test_oom_without_callback_warns():
    with pytest.warns(RuntimeWarning, match="retrying with 256px"):
        assert run_with_oom_fallback(oom_above(300, []), 512) == "done at 256"


def test_oom_gives_up_below_minimum_with_device_error_naming_the_tile():
    calls: list[int] = []
    with pytest.raises(DeviceError, match="even with 64px tiles") as info:
        run_with_oom_fallback(oom_above(10, calls), 256, min_tile=64, on_retry=lambda a, b: None)
    assert calls == [256, 128, 64]
    assert "--offload model" in info.value.render()


def test_mps_style_oom_message_and_other_errors():
    def mps(tile: int) -> int:
        if tile > 100:
            raise RuntimeError("MPS backend out of memory (MPS allocated: 8 GB)")
        return tile

    assert run_with_oom_fallback(mps, 400, on_retry=lambda a, b: None) == 96
    with pytest.raises(ValueError, match="boom"):
        run_with_oom_fallback(lambda t: (_ for _ in ()).throw(ValueError("boom")), 256)


def test_oom_fallback_around_tiled_apply_gives_the_untiled_result():
    x = torch.rand(1, 3, 96, 96)
    conv = torch.nn.Conv2d(3, 3, 3, padding=1)

    def run(tile: int) -> torch.Tensor:
        def fn(t: torch.Tensor) -> torch.Tensor:
            if t.shape[-1] > 48:
                raise torch.cuda.OutOfMemoryError("CUDA out of memory")
            return conv(t)

        return tiled_apply(fn, x, tile, 16)

    with torch.no_grad():
        out = run_with_oom_fallback(run, 96, min_tile=32, on_retry=lambda a, b: None)
        assert torch.allclose(out, conv(x), atol=1e-5)


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(1))

    seed_everything(7)
    a = draw()
    seed_everything(7)
    assert draw() == a
    assert torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(False)
    g1 = generator(Runtime(seed=3))
    g2 = generator(Runtime(seed=3))
    assert torch.equal(torch.rand(4, generator=g1), torch.rand(4, generator=g2))


def test_bad_offload_mode_is_usage_error():
    with pytest.raises(UsageError):
        resolve_runtime(device="cpu", offload="disk")
