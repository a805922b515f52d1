"""`vsrup models import simplegvr FILE`: a SimpleGVR state dict in our layout → our cache.

Keys are `transformer.*` (a diffusers WanTransformer3DModel with 32 input channels) and
`upsampler.*` (LatentUpsampler). The config comes from the safetensors metadata `config`
entry, or is inferred from tensor shapes.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from vsrup.methods.ourlayout import read_state_dict, store_checked


def infer_config(state: dict[str, torch.Tensor], meta: dict[str, str]) -> dict:
    if "config" in meta:
        return json.loads(meta["config"])
    from vsrup.methods.simplegvr.pipeline import infer_transformer_config

    up = state.get("upsampler.conv_in.weight")
    hidden, channels = (up.shape[0], up.shape[1]) if up is not None else (128, 16)
    return {
        "transformer": infer_transformer_config(state),
        "upsampler": {"channels": channels, "hidden": hidden},
    }


def build(config: dict) -> torch.nn.Module:
    from diffusers import WanTransformer3DModel

    from vsrup.methods.simplegvr.attention import AttentionPattern
    from vsrup.methods.simplegvr.model import LatentUpsampler, SimpleGVRModel

    return SimpleGVRModel(
        WanTransformer3DModel(**config["transformer"]),
        LatentUpsampler(**config["upsampler"]),
        AttentionPattern(),
    )


def convert_ours(src: Path, dst_dir: Path) -> Path:
    state, meta = read_state_dict(Path(src))
    return store_checked(state, infer_config(state, meta), Path(dst_dir), build)
