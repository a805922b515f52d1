"""Colour correction: AdaIN restores mean/std, wavelet restores low frequencies."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.helpers_engine import photo
from vsrup.engine.color import adain, color_fix, split_frequencies


def frames_from_photo(size=64, t=2):
    img = torch.from_numpy(photo("astronaut")).permute(2, 0, 1).float() / 255
    img = F.interpolate(img[None], size=(size, size), mode="area")
    return torch.cat([img, img.flip(-1)][:t]).clamp(0, 1)


def shifted(x):
    gain = torch.tensor([0.8, 1.0, 0.7]).view(1, 3, 1, 1)
    bias = torch.tensor([0.05, -0.04, 0.12]).view(1, 3, 1, 1)
    return (x * gain + bias).clamp(0, 1)


@pytest.mark.parametrize("mode", ["adain", "wavelet", "none"])
def test_identity_on_identical_content(mode):
    x = frames_from_photo()
    assert torch.allclose(color_fix(x, x, mode), x, atol=1e-5)


def test_adain_restores_mean_and_std_per_frame_and_channel():
    ref = frames_from_photo()
    out = color_fix(shifted(ref), ref, "adain")
    assert torch.allclose(out.mean((-2, -1)), ref.mean((-2, -1)), atol=2e-3)
    assert torch.allclose(out.std((-2, -1)), ref.std((-2, -1)), atol=2e-3)
    assert (out - ref).abs().mean() < 0.01  # a pure gain/bias shift is undone


def test_wavelet_restores_low_frequencies_and_keeps_detail():
    ref = frames_from_photo()
    detail = 0.03 * torch.sin(torch.arange(64.0) * 2.5).view(1, 1, 1, 64)  # fine stripes
    out = (ref + 0.1 + detail).clamp(0, 1)  # tint plus high-frequency "detail"
    fixed = color_fix(out, ref, "wavelet")
    _, low_fixed = split_frequencies(fixed)
    _, low_ref = split_frequencies(ref)
    assert (low_fixed - low_ref).abs().mean() < 0.01
    assert (out.mean() - ref.mean()) > 0.09 and abs(fixed.mean() - ref.mean()) < 0.01
    hi_fixed, _ = split_frequencies(fixed)
    hi_out, _ = split_frequencies(out)
    assert (hi_fixed - hi_out).abs().mean() < 0.01  # detail survives


def test_reference_is_resized_to_the_output():
    ref = frames_from_photo(32)
    big = F.interpolate(ref, scale_factor=4, mode="bicubic").clamp(0, 1)
    for mode in ("adain", "wavelet"):
        fixed = color_fix(shifted(big), ref, mode)
        assert fixed.shape == big.shape
        assert (fixed - big).abs().mean() < 0.03
        assert (shifted(big) - big).abs().mean() > 0.05


def test_frequency_split_is_exact_and_flat_stays_flat():
    x = torch.rand(1, 3, 20, 24)
    hi, lo = split_frequencies(x)
    assert torch.allclose(hi + lo, x, atol=1e-6)
    flat = torch.full((1, 3, 16, 16), 0.4)
    assert torch.allclose(color_fix(flat, flat, "wavelet"), flat, atol=1e-6)
    assert torch.allclose(color_fix(flat, flat, "adain"), flat, atol=1e-6)


def test_bad_mode_and_mismatched_frames():
    x = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError):
        color_fix(x, x, "histogram")
    with pytest.raises(ValueError):
        color_fix(x, x[:1], "adain")


def test_adain_with_eps_in_the_variance_is_stablesrs_formula():
    # DLoRAL's official colour fix: sqrt(var + eps) on both sides, eps not a clamp.
    x, r = torch.rand(2, 3, 9, 11), 0.3 + 0.05 * torch.rand(2, 3, 5, 7)
    x_mean, r_mean = x.mean((-2, -1), keepdim=True), r.mean((-2, -1), keepdim=True)
    x_std = (x.var((-2, -1), keepdim=True) + 0.01).sqrt()
    r_std = (r.var((-2, -1), keepdim=True) + 0.01).sqrt()
    expected = (x - x_mean) / x_std * r_std + r_mean
    got = adain(x, r, eps=0.01, eps_in_variance=True)
    assert torch.allclose(got, expected, atol=1e-6)
    # The default matches the reference's std itself; eps inside the variance does not.
    assert torch.allclose(adain(x, r, eps=0.01).std((-2, -1)), r.std((-2, -1)), atol=1e-5)
    assert (got.std((-2, -1)) - r.std((-2, -1))).abs().min() > 0.01
