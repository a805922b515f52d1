"""Classical resamplers: nearest, bicubic and lanczos (a=3), on any device.

They run through exactly the same engine as the learned methods. Lanczos is a separable
gather-and-weight resample (the same kernel ffmpeg's and Pillow's lanczos use), so it runs on
the GPU too; bicubic is PyTorch's (a = -0.75, like OpenCV's INTER_CUBIC).
"""

from __future__ import annotations

import torch

from vsrup.interface.method import Clip, Method, MethodOptions, MethodSpec
from vsrup.methods import register
from vsrup.util.resize import resize


class _Resampler(Method):
    kernel: str

    def __init__(self, scale: int) -> None:
        self._scale = scale

    @classmethod
    def from_weights(cls, weights, runtime, options: MethodOptions) -> Method:  # noqa: ANN001
        return cls(options.scale)

    @property
    def scale(self) -> int:
        return self._scale

    def process(self, clip: Clip) -> torch.Tensor:
        t, c, h, w = clip.frames.shape
        return resize(clip.frames, h * self._scale, w * self._scale, self.kernel)


def _spec(method_id: str, summary: str) -> MethodSpec:
    return MethodSpec(
        id=method_id,
        summary=summary,
        kind="classical",
        scales=(2, 3, 4),
        any_scale=True,
        dtypes=("fp32",),
        speed="instant",
    )


@register
class Nearest(_Resampler):
    spec = _spec("nearest", "Nearest-neighbour: blocky, no new detail; for pixel art.")
    kernel = "nearest"


@register
class Bicubic(_Resampler):
    spec = _spec("bicubic", "Bicubic interpolation: smooth, fast baseline.")
    kernel = "bicubic"


@register
class Lanczos(_Resampler):
    spec = _spec("lanczos", "Lanczos-3: the sharpest classical resampler.")
    kernel = "lanczos"
