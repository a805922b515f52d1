"""Run an ncnn model with pip `ncnn` on the CPU, as a drop-in for the equivalent torch module.

For the offline methods whose weights ship as ncnn files (SPAN), ncnn's own CPU kernels are as
fast as or faster than torch's on small frames (measured in docs/bench.md), with the same
fp32 numbers (3e-6 apart on a real frame). The runner takes and returns (N, 3, H, W) float32
torch tensors, one frame at a time through an extractor.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def ncnn_importable() -> bool:
    try:
        import ncnn  # noqa: F401
    except ImportError:
        return False
    return True


class NcnnNet:
    """A loaded ncnn graph with one input and one output blob."""

    def __init__(self, param: Path, bin_path: Path, in_blob: str, out_blob: str) -> None:
        import ncnn

        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False  # the CPU backend; Vulkan is another story
        # ncnn's OpenMP workers spin for 20 ms after each layer by default; in a pipeline the
        # decoder and the encoder need those cores between layers, so they sleep at once.
        self.net.opt.openmp_blocktime = 0
        if self.net.load_param(str(param)) != 0 or self.net.load_model(str(bin_path)) != 0:
            raise RuntimeError(f"ncnn could not load {param.name}")
        self.in_blob, self.out_blob = in_blob, out_blob
        self.name = param.name

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        import ncnn
        import numpy as np
        import torch

        out = []
        for frame in x.detach().to("cpu", torch.float32):
            # ncnn.Mat wraps this buffer without copying: it must stay alive while ncnn runs.
            arr = np.ascontiguousarray(frame.numpy())
            ex = self.net.create_extractor()
            ex.input(self.in_blob, ncnn.Mat(arr))
            ret, result = ex.extract(self.out_blob)
            if ret != 0:
                raise RuntimeError(f"ncnn failed on {self.name} ({ret})")
            out.append(torch.from_numpy(np.array(result)))
        return torch.stack(out)
