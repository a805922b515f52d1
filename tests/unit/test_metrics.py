"""Metrics: PSNR/SSIM on BT.601 luma against known cases, temporal scores, video streaming."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from skimage.metrics import structural_similarity
from typer.testing import CliRunner

from tests.helpers_bench import panning_clip, textured, to_u8, write_lossless
from vsrup.cli.app import app
from vsrup.errors import InputError
from vsrup.metrics import PSNR_CAP_DB, SCHEMA, evaluate_frames, evaluate_videos, psnr, rgb_to_y
from vsrup.metrics.quality import frame_quality, ssim


def test_identical_frames_give_the_psnr_cap_and_ssim_one() -> None:
    img = textured(48, 64)
    p, s = frame_quality(img, img.copy())
    assert p == PSNR_CAP_DB
    assert s == pytest.approx(1.0, abs=1e-12)


def test_luma_is_bt601_studio_range() -> None:
    assert rgb_to_y(np.zeros((1, 1, 3), np.uint8))[0, 0] == pytest.approx(16.0)
    assert rgb_to_y(np.full((1, 1, 3), 255, np.uint8))[0, 0] == pytest.approx(235.0)
    red = np.zeros((1, 1, 3))
    red[..., 0] = 1.0
    assert rgb_to_y(red)[0, 0] == pytest.approx(16 + 65.481)


def test_known_gaussian_noise_gives_the_expected_psnr() -> None:
    rng = np.random.default_rng(1)
    ref = textured(256, 256, lo=0.05, hi=0.95)
    sigma = 0.02
    # The same noise on R, G and B: the luma error is then exactly 219 times the added value.
    noise = rng.normal(0.0, sigma, size=(256, 256, 1)).repeat(3, axis=2)
    out = np.clip(ref + noise, 0.0, 1.0)
    actual = (out - ref)[..., 0]  # what the clipping left of the noise
    expected = 10 * math.log10(255**2 / np.mean((219.0 * actual) ** 2))
    got, _ = frame_quality(out, ref)
    assert got == pytest.approx(expected, abs=0.01)
    # And, loosely, the textbook value for unclipped noise of this sigma.
    assert got == pytest.approx(20 * math.log10(255 / (219 * sigma)), abs=0.1)


@pytest.mark.parametrize("shift", [(0, 1), (2, -1)])
def test_ssim_of_a_shifted_image_matches_skimage(shift: tuple[int, int]) -> None:
    ref = to_u8(textured(40, 52, seed=3))
    out = np.roll(ref, shift, axis=(0, 1))
    y_ref, y_out = rgb_to_y(ref), rgb_to_y(out)
    ours = ssim(y_out, y_ref)
    theirs = structural_similarity(
        y_out, y_ref, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert ours < 0.99
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_border_crop_ignores_the_border() -> None:
    ref = textured(40, 40)
    out = ref.copy()
    out[:2] = 0.0  # damage only the top 2 rows
    assert frame_quality(out, ref, crop=0)[0] < 40
    assert frame_quality(out, ref, crop=2) == (PSNR_CAP_DB, pytest.approx(1.0))
    assert psnr(np.zeros(4), np.full(4, 255.0)) == pytest.approx(0.0)


def test_warp_error_is_zero_when_static_and_large_with_flicker() -> None:
    base = textured(48, 64)
    static = [to_u8(base)] * 4
    flicker = [to_u8(np.clip(base + (0.08 if i % 2 else 0.0), 0, 1)) for i in range(4)]
    pan = panning_clip(4, 48, 64, step=2)
    e_static = evaluate_frames(static).means()["warp_error"]
    e_flicker = evaluate_frames(flicker).means()["warp_error"]
    e_pan = evaluate_frames(pan).means()["warp_error"]
    assert e_static is not None and e_flicker is not None and e_pan is not None
    assert e_static < 1e-6
    assert e_flicker > 3e-3  # about 0.08² (a few pixels clip)
    # Motion is explained by the flow: far below the raw frame difference of the pan.
    raw = np.mean(
        [np.mean((pan[i].astype(float) / 255 - pan[i - 1] / 255) ** 2) for i in (1, 2, 3)]
    )
    assert e_pan < 0.1 * raw


def test_luma_flicker_and_tdiff_have_their_documented_values() -> None:
    base = textured(32, 32)
    ref = [to_u8(base)] * 3
    out = [np.clip(base + d, 0, 1) for d in (0.0, 0.1, 0.0)]
    report = evaluate_frames(out, ref, temporal=True)
    first, second, third = report.frames
    assert first.luma_flicker is None and first.tdiff is None and first.warp_error is None
    assert second.luma_flicker == pytest.approx(21.9)  # 219 * 0.1 on the 0..255 luma scale
    assert second.tdiff == pytest.approx(21.9)
    assert third.tdiff == pytest.approx(21.9)
    assert report.means()["tdiff"] == pytest.approx(21.9)


def test_videos_stream_and_sizes_must_match(tmp_path) -> None:
    frames = panning_clip(5, 32, 48)
    gt = write_lossless(tmp_path / "gt.mkv", frames)
    noisy = [to_u8(np.clip(f / 255 + 0.02, 0, 1)) for f in frames]
    out = write_lossless(tmp_path / "out.mkv", noisy)
    report = evaluate_videos(out, gt, crop_border=2)
    assert len(report.frames) == 5
    assert (report.width, report.height) == (48, 32)
    direct = evaluate_frames(noisy, frames, crop_border=2)
    assert report.means()["psnr_y"] == pytest.approx(direct.means()["psnr_y"], abs=1e-9)
    assert evaluate_videos(gt, gt).means()["psnr_y"] == PSNR_CAP_DB

    small = write_lossless(tmp_path / "small.mkv", [f[:16, :24] for f in frames])
    with pytest.raises(InputError, match="48x32 but the reference .*small.mkv is 24x16"):
        evaluate_videos(out, small)
    short = write_lossless(tmp_path / "short.mkv", frames[:3])
    with pytest.raises(InputError, match="reference ended after 3 frames"):
        evaluate_videos(out, short)
    with pytest.raises(InputError, match="no such file"):
        evaluate_videos(tmp_path / "missing.mp4", gt)


def test_cli_json_schema(tmp_path) -> None:
    frames = panning_clip(3, 24, 32)
    gt = write_lossless(tmp_path / "gt.mkv", frames)
    out = write_lossless(tmp_path / "out.mkv", [to_u8(f / 255 * 0.9) for f in frames])
    result = CliRunner().invoke(app, ["metrics", str(out), str(gt), "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == SCHEMA
    assert data["frames"] == 3 and data["width"] == 32 and data["height"] == 24
    assert set(data["mean"]) == {"psnr_y", "ssim_y", "warp_error", "luma_flicker", "tdiff"}
    assert all(isinstance(v, float) for v in data["mean"].values())
    assert [f["index"] for f in data["per_frame"]] == [0, 1, 2]
    assert data["per_frame"][0]["warp_error"] is None
    assert isinstance(data["per_frame"][1]["warp_error"], float)

    table = CliRunner().invoke(app, ["metrics", str(out), str(gt), "--per-frame"])
    assert table.exit_code == 0 and "PSNR-Y" in table.stdout
    bad = CliRunner().invoke(app, ["metrics", str(tmp_path / "nope.mp4"), str(gt)])
    assert bad.exit_code == 2
    assert "nope.mp4: no such file" in bad.stderr
