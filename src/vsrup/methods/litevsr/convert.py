"""`vsrup models import litevsr FILE`: adapter weights in our layout → our cache layout.

No official LiteVSR checkpoint exists. We accept a state dict of `StateAwareAdapter` (as
`.safetensors`, or a `.pt`/`.bin` loaded with `weights_only=True`), infer its configuration from
tensor shapes (or take it from a `config` entry in the safetensors metadata), check every key
and shape against a freshly built adapter, and write `config.json` + `model.safetensors`.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch

from vsrup.errors import WeightsError


def _load(src: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    if src.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(src), framework="pt") as fh:
            meta = fh.metadata() or {}
            return {k: fh.get_tensor(k) for k in fh.keys()}, meta  # noqa: SIM118 (safe_open is not iterable)
    try:
        state = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as exc:  # an unsafe or corrupt pickle
        raise WeightsError(
            f"cannot be loaded safely ({exc.__class__.__name__})", path=src
        ) from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError("is not a state dict", path=src)
    return state, {}


def infer_config(state: dict[str, torch.Tensor], meta: dict[str, str]) -> dict:
    """Adapter constructor arguments from metadata, or else from tensor shapes."""
    if "config" in meta:
        return json.loads(meta["config"])
    try:
        conv = state["structural.patch_embedding.weight"]
        dim, in_channels, pt, ph, pw = conv.shape
        n_query = state["query_prototype"].shape[1]
        side = math.isqrt(n_query)
        hidden = state["structural.mlp.0.weight"].shape[0]
        freq = state["time_embedding.linear_1.weight"].shape[1]
    except KeyError as exc:
        raise WeightsError(f"not a LiteVSR adapter state dict: no {exc.args[0]!r}") from None
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


def convert_ours(src: Path, dst_dir: Path) -> Path:
    """Check and store adapter weights; returns the written model.safetensors."""
    from safetensors.torch import save_file

    from vsrup.methods.litevsr.pipeline import load_adapter

    state, meta = _load(Path(src))
    config = infer_config(state, meta)
    dst_dir.mkdir(parents=True, exist_ok=True)
    tmp_dir = dst_dir.with_name(dst_dir.name + ".partial")
    tmp_dir.mkdir(parents=True, exist_ok=True)
    (tmp_dir / "config.json").write_text(json.dumps(config, indent=2))
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_dir / "model.safetensors")
    load_adapter(tmp_dir)  # strict: every key and shape, or a WeightsError naming them
    for name in ("config.json", "model.safetensors"):
        (tmp_dir / name).replace(dst_dir / name)
    tmp_dir.rmdir()
    return dst_dir / "model.safetensors"
