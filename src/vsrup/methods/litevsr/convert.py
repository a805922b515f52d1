"""`vsrup models import litevsr FILE`: adapter weights in our layout → our cache layout.

No official LiteVSR checkpoint exists. We accept a state dict of `StateAwareAdapter` (as
`.safetensors`, or a `.pt`/`.bin` loaded with `weights_only=True`), take its configuration from
a `config` entry in the safetensors metadata or infer it from tensor shapes, check every key
and shape against a freshly built adapter, and write `config.json` + `model.safetensors`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from vsrup.errors import WeightsError
from vsrup.methods.ourlayout import read_state_dict, store_checked


def infer_config(state: dict[str, torch.Tensor], meta: dict[str, str]) -> dict:
    """Adapter constructor arguments from metadata, or else from tensor shapes."""
    if "config" in meta:
        return json.loads(meta["config"])
    try:
        conv = state["structural.patch_embedding.weight"]
        dim, in_channels, pt, ph, pw = conv.shape
        n_query = state["query_prototype"].shape[1]
        hidden = state["structural.mlp.0.weight"].shape[0]
        freq = state["time_embedding.linear_1.weight"].shape[1]
    except KeyError as exc:
        raise WeightsError(f"not a LiteVSR adapter state dict: no {exc.args[0]!r}") from None
    side = math.isqrt(n_query)  # choice: a square window one latent frame deep
    n_inj = len({k.split(".")[1] for k in state if k.startswith("injections.")})
    return {
        "in_channels": in_channels,
        "dim": dim,
        "num_heads": max(dim // 128, 1),
        "patch_size": [pt, ph, pw],
        "window": [pt, side * ph, side * pw],
        "num_injections": n_inj,
        "freq_dim": freq,
        "mlp_ratio": hidden / dim,
    }


def build(config: dict) -> torch.nn.Module:
    from vsrup.methods.litevsr.adapter import StateAwareAdapter

    return StateAwareAdapter(**{k: v for k, v in config.items() if not k.startswith("_")})


def convert_ours(src: Path, dst_dir: Path) -> Path:
    """Check and store adapter weights; returns the written model.safetensors."""
    state, meta = read_state_dict(Path(src))
    return store_checked(state, infer_config(state, meta), Path(dst_dir), build)
