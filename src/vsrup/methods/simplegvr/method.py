"""SimpleGVR: latent-cascaded VSR on a Wan-class DiT (Wan2.1-T2V-1.3B initialisation).

No public code or weights exist: the architecture follows the paper; weights come from
`vsrup models import simplegvr FILE` (our layout) or `--synthetic-weights tiny|full`. It takes
video files (encoded by the Wan2.1 VAE) or an upstream Wan pipeline's latents
(`vsrup upscale-latents`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vsrup.errors import MethodError
from vsrup.interface.method import MethodOptions, MethodSpec
from vsrup.methods import register
from vsrup.methods.wan_family import WanMethod

if TYPE_CHECKING:
    from pathlib import Path

    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime
    from vsrup.methods.simplegvr.attention import AttentionPattern
    from vsrup.methods.simplegvr.pipeline import SimpleGVRComponents, SimpleGVRPipeline

DEFAULT_NOISE_AUG = 0.45  # the middle of the paper's training range 0.3–0.6


@register
class SimpleGVR(WanMethod):
    spec = MethodSpec(
        id="simplegvr",
        summary="SimpleGVR: latent-cascaded Wan DiT, 50 steps; no public weights",
        kind="diffusion",
        scales=(4, 2),
        window=77,  # the paper's 5-second clips: 20 latent frames, 4 temporal units
        overlap=8,
        alignment=4,
        size_multiple=8,
        min_size=16,
        dtypes=("bf16", "fp16", "fp32"),
        tile=256,
        tile_overlap=32,
        weights=("wan21-t2v-1.3b", "simplegvr"),
        default_steps=50,
        speed="slow (50-step DiT)",
        option_keys=("noise_aug", "attention"),
        prompts=("prompt",),
    )
    own_weights = "simplegvr"

    def __init__(
        self, parts: SimpleGVRComponents, runtime: Runtime, options: MethodOptions
    ) -> None:
        super().__init__(parts, runtime, options)
        self.noise_aug = float(options.extra.get("noise_aug", DEFAULT_NOISE_AUG))
        if not 0.0 <= self.noise_aug < 1.0:
            raise MethodError(f"simplegvr: --opt noise_aug must be in [0, 1), got {self.noise_aug}")

    @staticmethod
    def pattern_for(options: MethodOptions) -> AttentionPattern:
        from vsrup.methods.simplegvr.pipeline import PATTERNS

        name = str(options.extra.get("attention", "units+sparse"))
        if name not in PATTERNS:
            raise MethodError(f"unknown attention {name!r}: use one of {', '.join(PATTERNS)}")
        return PATTERNS[name]

    @classmethod
    def synthetic_parts(
        cls, size: str, runtime: Runtime, options: MethodOptions
    ) -> SimpleGVRComponents:
        from vsrup.methods.simplegvr.pipeline import synthetic_components

        pattern = cls.pattern_for(options)
        return synthetic_components(
            size, runtime.torch_device, runtime.dtype, options.seed, pattern
        )

    @classmethod
    def pretrained_parts(
        cls, weights: WeightSet, runtime: Runtime, options: MethodOptions
    ) -> SimpleGVRComponents:
        from vsrup.methods.simplegvr.pipeline import pretrained_components

        return pretrained_components(
            weights["wan21-t2v-1.3b"],
            cls.own_weights_dir(weights, options),
            runtime.torch_device,
            runtime.dtype,
            cls.pattern_for(options),
            options.prompt or "",
        )

    @classmethod
    def with_trained(
        cls, parts: SimpleGVRComponents, directory: Path, options: MethodOptions
    ) -> SimpleGVRComponents:
        from vsrup.methods.simplegvr.pipeline import with_trained

        return with_trained(parts, directory, cls.pattern_for(options))

    def make_pipeline(self) -> SimpleGVRPipeline:
        from vsrup.methods.simplegvr.pipeline import SimpleGVRPipeline

        return SimpleGVRPipeline(self.parts, self.steps, self.scale, self.noise_aug)

    def upscale_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Upstream normalised latents → decoded HR frames (T, 3, H, W) in [0, 1]."""
        from vsrup.methods.simplegvr.pipeline import decode_latents, upscale_latents

        hr = upscale_latents(
            self.parts,
            latents.to(self.device),
            self.scale,
            self.steps,
            self.noise_aug,
            self.generator(0),  # one call: the whole latent video
        )
        return decode_latents(self.parts, hr)
