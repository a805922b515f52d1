"""SimpleGVR: latent-cascaded VSR on a Wan-class DiT (Wan2.1-T2V-1.3B initialisation).

No public code or weights exist: the architecture follows the paper; weights come from
`vsrup models import simplegvr FILE` (our layout) or `--synthetic-weights tiny|full`. It takes
video files (encoded by the Wan2.1 VAE) or an upstream Wan pipeline's latents
(`vsrup upscale-latents`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vsrup.errors import MethodError
from vsrup.interface.method import Clip, Method, MethodOptions, MethodSpec
from vsrup.methods import register

if TYPE_CHECKING:
    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime

DEFAULT_NOISE_AUG = 0.45  # the middle of the paper's training range 0.3–0.6


@register
class SimpleGVR(Method):
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

    def __init__(self, parts, runtime: Runtime, options: MethodOptions) -> None:  # noqa: ANN001
        self.parts = parts
        self.steps = self.steps_for(options)
        self.noise_aug = float(options.extra.get("noise_aug", DEFAULT_NOISE_AUG))
        if not 0.0 <= self.noise_aug < 1.0:
            raise MethodError(f"simplegvr: --opt noise_aug must be in [0, 1), got {self.noise_aug}")
        self._scale = options.scale if options.scale in self.spec.scales else self.spec.scales[0]
        self.device = runtime.torch_device
        self.runtime = runtime
        self.seed = options.seed

    @property
    def scale(self) -> int:
        return self._scale

    @staticmethod
    def pattern_for(options: MethodOptions):  # noqa: ANN205
        from vsrup.methods.simplegvr.pipeline import PATTERNS

        name = str(options.extra.get("attention", "units+sparse"))
        if name not in PATTERNS:
            raise MethodError(f"unknown attention {name!r}: use one of {', '.join(PATTERNS)}")
        return PATTERNS[name]

    @classmethod
    def from_weights(
        cls, weights: WeightSet | None, runtime: Runtime, options: MethodOptions
    ) -> Method:
        from vsrup.methods.simplegvr import pipeline

        pattern = cls.pattern_for(options)
        if options.synthetic_weights:
            parts = pipeline.synthetic_components(
                options.synthetic_weights,
                runtime.torch_device,
                runtime.dtype,
                options.seed,
                pattern,
            )
            if options.weights is not None:  # a trained model on the random VAE
                parts = pipeline.with_model(parts, options.weights, pattern)
        else:
            assert weights is not None
            parts = pipeline.pretrained_components(
                weights["wan21-t2v-1.3b"],
                options.weights or weights["simplegvr"],
                runtime.torch_device,
                runtime.dtype,
                pattern,
                options.prompt or "",
            )
        return cls(parts, runtime, options)

    def process(self, clip: Clip) -> torch.Tensor:
        from vsrup.engine.runtime import position_generator
        from vsrup.methods.simplegvr.pipeline import upscale_clip

        frames = clip.frames.to(self.device)
        # Noise from (seed, position): no generator state carried between windows.
        gen = position_generator(self.runtime, self.seed, clip.start)
        return upscale_clip(self.parts, frames, self._scale, self.steps, self.noise_aug, gen)

    def upscale_latents(self, latents: torch.Tensor) -> torch.Tensor:
        """Upstream normalised latents → decoded HR frames (T, 3, H, W) in [0, 1]."""
        from vsrup.engine.runtime import position_generator
        from vsrup.methods.simplegvr.pipeline import decode_latents, upscale_latents

        hr = upscale_latents(
            self.parts,
            latents.to(self.device),
            self._scale,
            self.steps,
            self.noise_aug,
            position_generator(self.runtime, self.seed, 0),  # one call: the whole latent video
        )
        return decode_latents(self.parts, hr)
