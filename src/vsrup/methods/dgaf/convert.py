"""`vsrup models import dgaf FILE`: an official DGAFNet checkpoint → our safetensors layout.

Accepts what the official training writes: a `save_pretrained` folder (`config.json` +
`diffusion_pytorch_model.safetensors` or `.bin`) or its weights file (the `config.json` beside
it is used), or a bare state dict (.safetensors, .bin, .pth, .pt). The key names are already
ours (same prefixes as the official `DGAFNetModel`); the config is read from `config.json`
when present, else inferred from tensor shapes. Every key and shape is checked against a
model built from that config before anything is written.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import torch

from vsrup.errors import WeightsError
from vsrup.hub.safe_load import save_state_dict
from vsrup.methods.dgaf.config import infer_config

WEIGHT_NAMES = (
    "diffusion_pytorch_model.safetensors",
    "diffusion_pytorch_model.bin",
    "model.safetensors",
)


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise WeightsError("not a state dict", path=path)
    return state


def _find_weights(src: Path) -> tuple[Path, Path | None]:
    if src.is_dir():
        for name in WEIGHT_NAMES:
            if (src / name).is_file():
                cfg = src / "config.json"
                return src / name, cfg if cfg.is_file() else None
        raise WeightsError("no DGAFNet weights in this folder", path=src)
    if not src.is_file():
        raise WeightsError("file not found", path=src)
    # `vsrup models import` hands over one file: use the config.json saved beside it, if any.
    sibling = src.parent / "config.json"
    return src, sibling if sibling.is_file() else None


def load_dgafnet(weights: Path, config: dict[str, Any]) -> Any:
    """Build DGAFNet from `config` and load `weights` strictly (named key/shape errors)."""
    from vsrup.methods.dgaf.model import DGAFNet
    from vsrup.nn.raft import load_strict

    # Official configs also carry the attention keys of the UNet they were copied from; they
    # do not change DGAFNet (it has no attention), so only our constructor's keys are passed.
    known = set(inspect.signature(DGAFNet.__init__).parameters) - {"self"}
    config = {k: v for k, v in config.items() if k in known}
    try:
        model = DGAFNet.from_config(config)
    except (ValueError, TypeError) as exc:
        raise WeightsError(f"unsupported DGAFNet config: {exc}", path=weights) from None
    load_strict(model, _read_state(weights), weights)
    return model


def convert_official(src: Path, dst_dir: Path) -> Path:
    """models.toml converter for `dgaf`: writes dst_dir/model.safetensors + config.json."""
    src = Path(src)
    weights, cfg_path = _find_weights(src)
    state = _read_state(weights)
    config = json.loads(cfg_path.read_text()) if cfg_path is not None else infer_config(state)
    model = load_dgafnet(weights, config)
    config = {k: v for k, v in dict(model.config).items() if not k.startswith("_")}
    dst_dir = Path(dst_dir)
    dst_dir.mkdir(parents=True, exist_ok=True)
    (dst_dir / "config.json").write_text(json.dumps(config, indent=2, default=list))
    return save_state_dict(model.state_dict(), dst_dir / "model.safetensors")
