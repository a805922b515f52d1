"""Classical resamplers: nearest, bicubic and lanczos (a=3), on any device.

They run through the same engine as the learned methods and take its integer frames
(`MethodSpec.integer_frames`). On the CPU, uint8/uint16 frames go straight to libswscale
(`vsrup.video.scale`), the resampler ffmpeg uses, with the same flags: the output equals
`ffmpeg -vf scale=W:H:flags=lanczos|bicubic|neighbor` on RGB frames, and nothing is converted
to float. On a GPU (or for float frames) the torch path (`vsrup.util.resize`) runs: Lanczos
as a separable resample with the same kernel, bicubic as PyTorch's (a = -0.75).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vsrup.interface.method import Clip, Method, MethodOptions, MethodSpec
from vsrup.methods import register
from vsrup.video.scale import FrameScaler, resize_frames

if TYPE_CHECKING:  # torch (and the float resize) are imported where they run: the CPU path
    import torch  # never needs them


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
        import torch

        from vsrup.util.resize import resize

        t, c, h, w = clip.frames.shape
        size = (h * self._scale, w * self._scale)
        frames = clip.frames
        if frames.is_floating_point():
            return resize(frames, *size, self.kernel)
        if frames.device.type == "cpu":
            return resize_frames(frames, *size, self._scaler)
        # On a GPU the float path is the fast one; the engine quantises the result.
        peak = 65535.0 if frames.dtype == torch.uint16 else 255.0
        return resize(frames.float().div_(peak), *size, self.kernel)

    @property
    def _scaler(self) -> FrameScaler:
        scaler = getattr(self, "_sws", None)
        if scaler is None:
            scaler = self._sws = FrameScaler(self.kernel)
        return scaler


def _spec(method_id: str, summary: str) -> MethodSpec:
    return MethodSpec(
        id=method_id,
        summary=summary,
        kind="classical",
        scales=(2, 3, 4),
        any_scale=True,
        integer_frames=True,
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
