"""`waifu2x`: waifu2x upconv_7 (photo or anime), ×2 per pass, ×4 as two passes.

`--model photo|anime` (default photo). The network has no padding of its own and eats 7 input
pixels per side, so each pass replicates the border by 7 px first, as waifu2x does.
"""

from __future__ import annotations

from vsrup.interface.method import MethodOptions, MethodSpec
from vsrup.methods import register
from vsrup.methods.offline import FeedForwardSR, native_scale

VARIANTS = {"photo": "waifu2x-upconv7-photo", "anime": "waifu2x-upconv7-anime"}
DEFAULT_VARIANT = "photo"


@register
class Waifu2x(FeedForwardSR):
    spec = MethodSpec(
        id="waifu2x",
        summary="waifu2x upconv_7 (--model photo|anime): ×2, or ×4 in two passes.",
        kind="learned",
        scales=(2, 4),
        dtypes=("fp16", "bf16", "fp32"),
        # One pass sees 7 px around each pixel, two passes 7 + 4: overlap // 4 = 12 suffices.
        tile=256,
        tile_overlap=48,
        weights=tuple(VARIANTS.values()),
        speed="medium",
        variants=tuple(VARIANTS),
        option_keys=("batch",),
    )
    pad = (7, "replicate")
    pass_scale = 2
    variants = VARIANTS
    default_variant = DEFAULT_VARIANT

    @classmethod
    def choose(cls, options: MethodOptions) -> tuple[str, int]:
        scale = native_scale(options.scale, cls.spec.scales)
        return cls.variant_id(options), 1 if scale == 2 else 2
