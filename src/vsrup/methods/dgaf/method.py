"""The `dgaf` method: DGAFNet guidance on the SD ×4 upscaler base, one window per `process`.

The official base folder (`ckpts/DGAF_VSR`: vae, unet, text encoder, scheduler) is not
released; we use StableVSR's base (registry id `stablevsr`), which shares the ×4 upscaler
layout. DGAFNet weights come from `vsrup models import dgaf FILE` (registry id `dgaf`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsrup.methods import register
from vsrup.methods.base import Method, MethodOptions, MethodSpec
from vsrup.methods.stablevsr.method import SPEC_COMMON, FlowGuidedMethod

if TYPE_CHECKING:
    from vsrup.engine.runtime import Runtime
    from vsrup.hub.registry import WeightSet


def load_imported(root: Path | None) -> Any:
    """DGAFNet from `cache_root()/dgaf/` (model.safetensors + config.json)."""
    from vsrup.hub.registry import missing_weights
    from vsrup.methods.dgaf.convert import infer_config, load_dgafnet

    if root is None or not (Path(root) / "model.safetensors").is_file():
        raise missing_weights("dgaf")
    root = Path(root)
    cfg_path = root / "config.json"
    if cfg_path.is_file():
        config = json.loads(cfg_path.read_text())
    else:
        from safetensors.torch import load_file

        config = infer_config(load_file(str(root / "model.safetensors")))
    return load_dgafnet(root / "model.safetensors", config)


@register
class DGAF(FlowGuidedMethod):
    spec = MethodSpec(
        id="dgaf",
        summary="DGAF-VSR: StableVSR base with dense latent guidance (DGAFNet) from the "
        "flow-aligned previous frame; 50 DDPM steps (slow, GPU; no public weights yet).",
        weights=("stablevsr", "dgaf", "raft-large"),
        speed="very slow",
        **SPEC_COMMON,
    )

    @classmethod
    def from_weights(
        cls, weights: WeightSet | None, runtime: Runtime, options: MethodOptions
    ) -> Method:
        from vsrup.methods.dgaf.model import DGAFNet
        from vsrup.methods.dgaf.pipeline import DGAFPipeline
        from vsrup.methods.stablevsr import components as comp
        from vsrup.methods.stablevsr.pipeline import make_scheduler

        choices = comp.Choices.parse(options.extra)
        size = comp.synthetic_size(options)
        if size is not None:
            base = comp.synthetic_base(size, runtime, options.seed)
            dgafnet = DGAFNet.from_unet(base.unet, conditioning_channels=4)
        else:
            root = weights.get("stablevsr") if weights is not None else None
            dgafnet = load_imported(weights.get("dgaf") if weights is not None else None)
            base = comp.load_base(root, "stablevsr", runtime, options.prompt or "")
        flow = comp.load_flow(weights, size is not None, runtime, choices.raft_norm)
        pipe = DGAFPipeline(
            base.unet,
            base.vae,
            make_scheduler(base.scheduler_config, choices.scheduler),
            base.prompt_embeds,
            flow,
            warp=choices.warp,
            conditioning_scale=choices.conditioning_scale,
            flow_batch=choices.flow_batch,
            flow_updates=choices.flow_updates,
            dgafnet=comp.place(dgafnet, runtime),
        )
        return cls(pipe, cls.steps_for(options), options.seed)
