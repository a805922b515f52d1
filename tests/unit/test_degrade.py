"""Degradation: LR/GT pairs with the right sizes, kernels, noise and compression."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers_bench import panning_clip, textured, to_u8, write_lossless
from vsrup.bench.degrade import Degradation, degrade_frame, degrade_frames, downscale
from vsrup.cli.app import app
from vsrup.metrics import evaluate_frames
from vsrup.metrics.frames import read_rgb
from vsrup.video.probe import probe_video


def test_area_kernel_averages_blocks_and_constants_stay_constant() -> None:
    img = textured(8, 12)
    area = downscale(img, 4, "area")
    assert area.shape == (2, 3, 3)
    assert np.allclose(area[1, 2], img[4:8, 8:12].mean(axis=(0, 1)))
    flat = np.full((16, 16, 3), 0.25)
    for kernel in ("area", "bicubic", "lanczos"):
        assert np.allclose(downscale(flat, 2, kernel), 0.25, atol=1e-6)


def test_gt_is_cropped_to_a_multiple_of_the_scale() -> None:
    frames = iter([to_u8(textured(34, 50))])
    gt, lr = next(degrade_frames(frames, Degradation(scale=4)))
    assert gt.shape == (32, 48, 3) and lr.shape == (8, 12, 3)
    assert gt.dtype == lr.dtype == np.uint8


def test_noise_and_jpeg_make_it_worse_by_the_expected_amount() -> None:
    gt = to_u8(textured(64, 64))
    rng = np.random.default_rng(0)
    clean = degrade_frame(gt, Degradation(scale=2), rng).astype(float)
    noisy = degrade_frame(gt, Degradation(scale=2, noise=5.0), rng).astype(float)
    assert np.std(noisy - clean) == pytest.approx(5.0, rel=0.1)
    jpeg = degrade_frame(gt, Degradation(scale=2, jpeg=20), rng)
    p_jpeg = evaluate_frames([jpeg], [clean.astype(np.uint8)], temporal=False).means()["psnr_y"]
    assert p_jpeg is not None and 25 < p_jpeg < 45
    blurred = degrade_frame(gt, Degradation(scale=2, blur=2.0), rng).astype(float)
    assert np.abs(np.diff(blurred, axis=1)).mean() < np.abs(np.diff(clean, axis=1)).mean()


def test_bad_settings_are_usage_errors() -> None:
    from vsrup.errors import UsageError

    for bad in (Degradation(kernel="box"), Degradation(jpeg=0), Degradation(noise=-1)):
        with pytest.raises(UsageError):
            bad.check()


def test_lossless_mp4_gives_the_frames_back(tmp_path) -> None:
    frames = panning_clip(3, 17, 23)  # odd sizes on purpose
    path = write_lossless(tmp_path / "a.mkv", frames)
    assert all(np.array_equal(a, b) for a, b in zip(read_rgb(path), frames, strict=True))
    from vsrup.metrics.frames import RgbWriter

    with RgbWriter(tmp_path / "a.mp4", lossless=True) as w:
        for f in frames:
            w.write(f)
    assert all(
        np.array_equal(a, b) for a, b in zip(read_rgb(tmp_path / "a.mp4"), frames, strict=True)
    )


def test_cli_writes_lr_and_gt(tmp_path) -> None:
    src = write_lossless(tmp_path / "src.mkv", panning_clip(6, 34, 50))
    runner = CliRunner()
    lr, gt = tmp_path / "lr.mp4", tmp_path / "gt.mkv"
    refused = runner.invoke(app, ["degrade", str(src), "-o", str(lr), "--scale", "4"])
    assert refused.exit_code == 2 and "--gt" in refused.stderr
    assert not lr.exists()
    ok = runner.invoke(
        app,
        [
            "degrade",
            str(src),
            "-o",
            str(lr),
            "--gt",
            str(gt),
            "--scale",
            "4",
            "--frames",
            "1:5",
            "--kernel",
            "lanczos",
            "--noise",
            "2",
            "--crf",
            "20",
        ],
    )
    assert ok.exit_code == 0, ok.stderr
    lr_info, gt_info = probe_video(lr), probe_video(gt)
    assert (lr_info.width, lr_info.height, gt_info.width, gt_info.height) == (12, 8, 48, 32)
    assert len(list(read_rgb(lr))) == 4 and len(list(read_rgb(gt))) == 4
    same = runner.invoke(app, ["degrade", str(src), "-o", str(src)])
    assert same.exit_code == 2 and "same file as the input" in same.stderr
    again = runner.invoke(
        app, ["degrade", str(src), "-o", str(lr), "--gt", str(gt), "--scale", "4"]
    )
    assert again.exit_code == 2 and "already exists" in again.stderr
    forced = runner.invoke(
        app, ["degrade", str(src), "-o", str(lr), "--gt", str(gt), "-s", "4", "--overwrite"]
    )
    assert forced.exit_code == 0, forced.stderr
    assert len(list(read_rgb(lr))) == 6


def test_bicubic_matches_torch_antialiased_bicubic_away_from_borders() -> None:
    import torch
    import torch.nn.functional as F

    img = textured(64, 96, seed=5).astype(np.float32)
    for scale in (2, 4):
        ours = downscale(img, scale, "bicubic")
        x = torch.from_numpy(img).permute(2, 0, 1)[None]
        ref = (
            F.interpolate(
                x,
                size=(64 // scale, 96 // scale),
                mode="bicubic",
                antialias=True,
                align_corners=False,
            )[0]
            .permute(1, 2, 0)
            .numpy()
        )
        # Same kernel (Keys a = -0.5, stretched); only the edge handling differs (we clamp).
        assert np.abs(ours - ref)[2:-2, 2:-2].max() < 1e-5


def test_deep_frames_are_rounded_to_8_bit() -> None:
    from vsrup.metrics.frames import as_u8

    deep = np.array([[[0, 257, 65535]]], dtype=np.uint16)
    assert as_u8(deep).tolist() == [[[0, 1, 255]]]
    gt, lr = next(degrade_frames(iter([np.full((8, 8, 3), 257 * 100, np.uint16)]), Degradation(2)))
    assert gt.dtype == np.uint8 and int(gt[0, 0, 0]) == 100 and int(lr[0, 0, 0]) == 100
