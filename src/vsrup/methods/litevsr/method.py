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

    def __init__(self, parts, runtime: Runtime, options: MethodOptions) -> None:  # noqa: ANN001
        from vsrup.engine.runtime import generator

        self.parts = parts
        self.steps = self.steps_for(options)
        self.device = runtime.torch_device
        self.generator = generator(runtime, options.seed)

    @classmethod
    def from_weights(
        cls, weights: WeightSet | None, runtime: Runtime, options: MethodOptions
    ) -> Method:
        from vsrup.methods.litevsr import pipeline

        if options.synthetic_weights:
            parts = pipeline.synthetic_components(
                options.synthetic_weights, runtime.torch_device, runtime.dtype, options.seed
            )
        else:
            assert weights is not None
            parts = pipeline.pretrained_components(
                weights["wan22-ti2v-5b"], weights["litevsr"], runtime.torch_device, runtime.dtype
            )
        return cls(parts, runtime, options)

    def process(self, clip: Clip) -> torch.Tensor:
        from vsrup.methods.litevsr.pipeline import upscale_clip

        return upscale_clip(self.parts, clip.frames.to(self.device), self.steps, self.generator)
