"""LiteVSR: a frozen Wan2.2-TI2V-5B steered by a State-Aware Adapter, few-step UniPC.

No public code or weights exist: the architecture follows the paper; weights come from
`vsrup models import litevsr FILE` (our layout) or `--synthetic-weights tiny|full`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vsrup.interface.method import Clip, Method, MethodOptions, MethodSpec
from vsrup.methods import register

if TYPE_CHECKING:
    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime


@register
class LiteVSR(Method):
    spec = MethodSpec(
        id="litevsr",
        summary="LiteVSR: frozen Wan2.2-5B + State-Aware Adapter, 5 UniPC steps; no public weights",
        kind="diffusion",
        scales=(4,),
        window=37,  # the paper's training length (4k+1 for the Wan VAE)
        overlap=4,
        alignment=4,
        size_multiple=8,  # ×4 then 16× VAE and 2× patches: 32 HR pixels per token
        min_size=16,
        dtypes=("bf16", "fp16", "fp32"),
        tile=256,
        tile_overlap=32,
        weights=("wan22-ti2v-5b", "litevsr"),
        default_steps=5,
        speed="slow (multi-step DiT)",
    )
    own_weights = "litevsr"

    def __init__(self, parts, runtime: Runtime, options: MethodOptions) -> None:  # noqa: ANN001
        self.parts = parts
        self.steps = self.steps_for(options)
        self.device = runtime.torch_device
        self.runtime = runtime
        self.seed = options.seed

    @classmethod
    def from_weights(
        cls, weights: WeightSet | None, runtime: Runtime, options: MethodOptions
    ) -> Method:
        from vsrup.methods.litevsr import pipeline

        if options.synthetic_weights:
            parts = pipeline.synthetic_components(
                options.synthetic_weights, runtime.torch_device, runtime.dtype, options.seed
            )
            if options.weights is not None:  # a trained adapter on the random base
                parts = pipeline.with_adapter(parts, options.weights)
        else:
            assert weights is not None
            adapter = options.weights or weights["litevsr"]
            parts = pipeline.pretrained_components(
                weights["wan22-ti2v-5b"], adapter, runtime.torch_device, runtime.dtype
            )
        return cls(parts, runtime, options)

    def process(self, clip: Clip) -> torch.Tensor:
        from vsrup.engine.runtime import position_generator
        from vsrup.methods.litevsr.pipeline import upscale_clip

        # Noise from (seed, position): no generator state carried between windows.
        gen = position_generator(self.runtime, self.seed, clip.start)
        return upscale_clip(self.parts, clip.frames.to(self.device), self.steps, gen)
