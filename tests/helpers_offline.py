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
