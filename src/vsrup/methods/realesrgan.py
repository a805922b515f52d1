"""`realesrgan`: Real-ESRGAN ×4 models (x4plus, x4plus-anime, animevideov3), per frame.

`--model` picks the variant (default x4plus). x4plus and x4plus-anime are RRDBNet GANs
(perceptual, not PSNR-oriented); animevideov3 is the small SRVGGNetCompact for anime video.
Frames are reflect-padded by 10 px before inference and cropped after, as Real-ESRGAN's own
tools do; zero padding would change up to ~18 px at the edges.
"""

from __future__ import annotations

from vsrup.interface.method import MethodOptions, MethodSpec
from vsrup.methods import register
from vsrup.methods.offline import FeedForwardSR

VARIANTS = {
    "x4plus": "realesrgan-x4plus",
    "x4plus-anime": "realesrgan-x4plus-anime",
    "animevideov3": "realesr-animevideov3",
}
DEFAULT_VARIANT = "x4plus"


@register
class RealESRGAN(FeedForwardSR):
    spec = MethodSpec(
        id="realesrgan",
        summary="Real-ESRGAN ×4 (--model x4plus|x4plus-anime|animevideov3): GAN detail.",
        kind="learned",
        scales=(4,),
        dtypes=("fp16", "bf16", "fp32"),
        # animevideov3 sees 18 px around each pixel: overlap // 4 = 20 makes its tiles
        # seamless. RRDBNet's field is far wider than any tile, so its seams are only small.
        tile=256,
        tile_overlap=80,
        weights=tuple(VARIANTS.values()),
        speed="x4plus: slow; animevideov3: fast",
        variants=tuple(VARIANTS),
        option_keys=("batch",),
    )
    pad = (10, "reflect")
    pass_scale = 4
    variants = VARIANTS
    default_variant = DEFAULT_VARIANT

    @classmethod
    def choose(cls, options: MethodOptions) -> tuple[str, int]:
        return cls.variant_id(options), 1
