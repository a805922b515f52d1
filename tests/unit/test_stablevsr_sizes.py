"""StableVSR / DGAF-VSR frame sizes: the official pre-processing (round down to a multiple of 4
with Pillow's Lanczos) by default, padding on request (`--opt fit=pad`)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vsrup.errors import UsageError
from vsrup.methods.stablevsr.config import Choices
from vsrup.methods.stablevsr.sizes import fit_frames, official_note, official_size


def _frames(n: int, h: int, w: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.randint(0, 256, (n, 3, h, w), generator=g).float() / 255


def test_official_size_rounds_down_to_a_multiple_of_4() -> None:
    assert official_size(33, 37) == (32, 36)
    assert official_size(180, 320) == (180, 320)
    assert official_size(35, 2) == (32, 2)  # a side below 4 cannot be rounded down


def test_official_fit_is_pillows_lanczos_on_8_bits_and_the_default() -> None:
    assert Choices.parse({}).fit == "official"
    frames = _frames(2, 33, 37)
    out, keep = fit_frames(frames, "official", 32)
    assert keep == (32, 36) and out.shape == (2, 3, 32, 36)
    u8 = (frames * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    for k in range(2):
        pil = Image.fromarray(u8[k]).resize((36, 32), Image.Resampling.LANCZOS)
        ours = (out[k] * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        np.testing.assert_array_equal(ours, np.asarray(pil))
    # Multiples of 4 are not touched.
    same = _frames(1, 32, 36)
    assert torch.equal(fit_frames(same, "official", 32)[0], same)


def test_pad_fit_keeps_every_pixel_and_pads_to_the_multiple() -> None:
    frames = _frames(1, 33, 37)
    out, keep = fit_frames(frames, "pad", 32)
    assert keep == (33, 37) and out.shape[-2:] == (36, 40)
    assert torch.equal(out[..., :33, :37], frames)


def test_small_frames_are_padded_to_the_flow_networks_minimum_after_rounding() -> None:
    out, keep = fit_frames(_frames(1, 22, 41), "official", 32)
    assert keep == (20, 40) and out.shape[-2:] == (32, 40)


def test_the_user_is_told_once_what_happens_to_an_odd_size() -> None:
    assert official_note("stablevsr", 32, 36) is None
    note = official_note("dgaf", 33, 37)
    assert note is not None and "\n" not in note
    assert "37×33" in note and "36×32" in note and "144×128" in note and "fit=pad" in note


def test_unknown_fit_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="fit=crop"):
        Choices.parse({"fit": "crop"})
