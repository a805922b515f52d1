"""The `dgaf` method: DGAFNet guidance on the SD ×4 upscaler base, one window per `process`.

The official base folder (`ckpts/DGAF_VSR`: vae, unet, text encoder, scheduler) is not
released; we use StableVSR's base (registry id `stablevsr`), which shares the ×4 upscaler
layout. DGAFNet weights come from `vsrup models import dgaf FILE` (registry id `dgaf`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsrup.interface.method import MethodSpec
from vsrup.methods import register
from vsrup.methods.stablevsr.method import SPEC_COMMON, FlowGuidedMethod

if TYPE_CHECKING:
    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime


def load_imported(root: Path | None) -> Any:
    """DGAFNet from `cache_root()/dgaf/` (model.safetensors + config.json)."""
    from vsrup.hub.registry import missing_weights
    from vsrup.methods.dgaf.config import infer_config
    from vsrup.methods.dgaf.convert import load_dgafnet

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
    own_weights = "dgaf"

    @classmethod
    def build_guide(
        cls, unet: Any, weights: WeightSet | None, size: str | None, runtime: Runtime
    ) -> tuple[type, dict[str, Any]]:
        from vsrup.methods.dgaf.model import DGAFNet
        from vsrup.methods.dgaf.pipeline import DGAFPipeline

        trained = weights.get("dgaf") if weights is not None else None
        if size is not None and trained is None:
            return DGAFPipeline, {"dgafnet": DGAFNet.from_unet(unet)}
        return DGAFPipeline, {"dgafnet": load_imported(trained)}
