"""LiteVSR: a frozen Wan2.2-TI2V-5B steered by a State-Aware Adapter, few-step UniPC.

No public code or weights exist: the architecture follows the paper; weights come from
`vsrup models import litevsr FILE` (our layout) or `--synthetic-weights tiny|full`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vsrup.interface.method import MethodOptions, MethodSpec
from vsrup.methods import register
from vsrup.methods.wan_family import WanMethod

if TYPE_CHECKING:
    from pathlib import Path

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime
    from vsrup.methods.litevsr.pipeline import LiteVSRComponents, LiteVSRPipeline


@register
class LiteVSR(WanMethod):
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

    @classmethod
    def synthetic_parts(
        cls, size: str, runtime: Runtime, options: MethodOptions
    ) -> LiteVSRComponents:
        from vsrup.methods.litevsr.pipeline import synthetic_components

        return synthetic_components(size, runtime.torch_device, runtime.dtype, options.seed)

    @classmethod
    def pretrained_parts(
        cls, weights: WeightSet, runtime: Runtime, options: MethodOptions
    ) -> LiteVSRComponents:
        from vsrup.methods.litevsr.pipeline import pretrained_components

        adapter = cls.own_weights_dir(weights, options)
        return pretrained_components(
            weights["wan22-ti2v-5b"], adapter, runtime.torch_device, runtime.dtype
        )

    @classmethod
    def with_trained(
        cls, parts: LiteVSRComponents, directory: Path, options: MethodOptions
    ) -> LiteVSRComponents:
        from vsrup.methods.litevsr.pipeline import with_adapter

        return with_adapter(parts, directory)

    def make_pipeline(self) -> LiteVSRPipeline:
        from vsrup.methods.litevsr.pipeline import LiteVSRPipeline

        return LiteVSRPipeline(self.parts, self.steps, self.scale)
