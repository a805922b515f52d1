"""Spatial tiles: tiled == untiled for local operators, flat stays flat, any size works."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from vsrup.engine.tiles import axis_starts, pad_to, tiled_apply


def test_axis_starts_cover_and_end_flush() -> None:
    assert axis_starts(50, 64, 16) == [0]
    starts = axis_starts(200, 64, 16)
    assert starts[0] == 0 and starts[-1] == 200 - 64
    assert all(b - a <= 64 - 16 for a, b in zip(starts, starts[1:]))


@pytest.mark.parametrize("size", [(37, 53), (64, 64), (97, 130)])
def test_local_operator_tiled_equals_untiled(size: tuple[int, int]) -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 3, 5, padding=2, padding_mode="replicate")  # reach 2 px
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        whole = conv(x)
        tiled = tiled_apply(conv, x, tile=24, overlap=12, margin=3)
    assert tiled.shape == whole.shape
    assert torch.allclose(tiled, whole, atol=1e-5)


def test_upscaling_operator_tiled_equals_untiled() -> None:
    torch.manual_seed(1)
    conv = torch.nn.Conv2d(3, 3, 3, padding=1, padding_mode="replicate")

    def up(t: torch.Tensor) -> torch.Tensor:
        return F.interpolate(conv(t), scale_factor=4, mode="nearest")

    x = torch.rand(1, 3, 45, 70)
    with torch.no_grad():
        assert torch.allclose(tiled_apply(up, x, 16, 8, scale=4, margin=2), up(x), atol=1e-5)


def test_fractional_scale_like_a_vae_encoder() -> None:
    def enc(t: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(t, 8)

    x = torch.rand(1, 4, 128, 192)
    out = tiled_apply(enc, x, 64, 32, scale=1 / 8, multiple=8, margin=0)
    assert torch.allclose(out, enc(x), atol=1e-5)


@pytest.mark.parametrize("blend", ["linear", "gaussian"])
def test_flat_image_stays_flat(blend: str) -> None:
    x = torch.full((1, 3, 90, 77), 0.37)
    out = tiled_apply(lambda t: t * 1.0, x, 32, 16, blend=blend)
    assert torch.allclose(out, x, atol=1e-6)


def test_pad_to_multiple_and_min_size() -> None:
    x = torch.rand(1, 3, 5, 9)
    y, orig = pad_to(x, multiple=8, min_size=16)
    assert y.shape[-2:] == (16, 16) and orig == (5, 9)
    assert torch.equal(y[..., :5, :9], x)
