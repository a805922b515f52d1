"""`vsrup models import simplegvr FILE`: a SimpleGVR state dict in our layout → our cache.

Keys are `transformer.*` (a diffusers WanTransformer3DModel with 32 input channels) and
`upsampler.*` (LatentUpsampler). The config comes from the safetensors metadata `config`
entry, or is inferred from tensor shapes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from vsrup.errors import WeightsError
from vsrup.methods.ourlayout import read_state_dict, store_checked
from vsrup.methods.simplegvr import config as cfg


def infer_transformer_config(state: dict[str, torch.Tensor]) -> dict:
    """WanTransformer3DModel arguments from a state dict's shapes (keys prefixed `transformer.`)."""
    try:
        pe = state["transformer.patch_embedding.weight"]
        ffn = state["transformer.blocks.0.ffn.net.0.proj.weight"]
        text = state["transformer.condition_embedder.text_embedder.linear_1.weight"]
        freq = state["transformer.condition_embedder.time_embedder.linear_1.weight"]
        out = state["transformer.proj_out.weight"]
    except KeyError as exc:
        raise WeightsError(f"not a SimpleGVR state dict: no {exc.args[0]!r}") from None
    dim = pe.shape[0]
    layers = len({k.split(".")[2] for k in state if k.startswith("transformer.blocks.")})
    patch = tuple(pe.shape[2:])
    return {
        **cfg.FULL_TRANSFORMER,
        "patch_size": patch,
        "num_attention_heads": max(dim // 128, 1),
        "attention_head_dim": dim // max(dim // 128, 1),
        "in_channels": pe.shape[1],
        "out_channels": out.shape[0] // math.prod(patch),
        "text_dim": text.shape[1],
        "freq_dim": freq.shape[1],
        "ffn_dim": ffn.shape[0],
        "num_layers": layers,
    }


def infer_config(state: dict[str, torch.Tensor], meta: dict[str, str]) -> dict:
    if "config" in meta:
        return json.loads(meta["config"])
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
