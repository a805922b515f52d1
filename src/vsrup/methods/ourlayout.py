"""Weights in vsrup's own layout (for methods without official checkpoints).

A model directory holds `config.json` (constructor arguments) and `model.safetensors`.
Importing reads a state dict safely (safetensors, or a pickle only through
`torch.load(weights_only=True)`), checks every key and shape against the model the config
builds, and only then moves the files into place, so a failed import leaves nothing behind.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from vsrup.errors import WeightsError
from vsrup.hub.safe_load import check_keys, save_state_dict


def read_state_dict(src: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """(tensors, safetensors metadata) from a .safetensors file or a weights-only pickle."""
    src = Path(src)
    if not src.is_file():
        raise WeightsError("no such file", path=src)
    if src.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            with safe_open(str(src), framework="pt") as fh:
                meta = fh.metadata() or {}
                return {k: fh.get_tensor(k) for k in fh.keys()}, meta  # noqa: SIM118
        except Exception as exc:
            raise WeightsError(f"is not a readable safetensors file ({exc})", path=src) from None
    try:
        state = torch.load(src, map_location="cpu", weights_only=True)
    except Exception as exc:  # code in the pickle, or a corrupt file
        raise WeightsError(
            f"cannot be loaded safely ({exc.__class__.__name__}); only plain tensor pickles "
            "or safetensors are accepted",
            path=src,
        ) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError("is not a state dict of tensors", path=src)
    return state, {}


def load_checked(
    directory: Path, build: Callable[[dict[str, Any]], torch.nn.Module]
) -> torch.nn.Module:
    """Build the model from config.json and load model.safetensors strictly."""
    from safetensors.torch import load_file

    config_path, weights_path = directory / "config.json", directory / "model.safetensors"
    if not config_path.is_file() or not weights_path.is_file():
        raise WeightsError("config.json or model.safetensors is missing", path=directory)
    model = build(json.loads(config_path.read_text()))
    state = load_file(weights_path)
    check_keys(state, model.state_dict(), what="checkpoint", path=weights_path)
    model.load_state_dict(state)
    return model


def store_checked(
    state: dict[str, torch.Tensor],
    config: dict[str, Any],
    dst_dir: Path,
    build: Callable[[dict[str, Any]], torch.nn.Module],
) -> Path:
    """Write config + weights into a staging dir, verify by loading, then move into place."""
    return store_staged(state, config, dst_dir, verify=lambda staging: load_checked(staging, build))


def store_staged(
    state: dict[str, torch.Tensor],
    config: dict[str, Any],
    dst_dir: Path,
    *,
    metadata: dict[str, str] | None = None,
    verify: Callable[[Path], object] | None = None,
) -> Path:
    """Write `config.json` + `model.safetensors` into a staging dir, run `verify` on it, and
    only then move both into `dst_dir`: a failed import leaves nothing behind."""
    staging = dst_dir.with_name(dst_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        (staging / "config.json").write_text(json.dumps(config, indent=2))
        save_state_dict(state, staging / "model.safetensors", metadata=metadata)
        if verify is not None:
            verify(staging)
        dst_dir.mkdir(parents=True, exist_ok=True)
        for name in ("config.json", "model.safetensors"):
            (staging / name).replace(dst_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return dst_dir / "model.safetensors"
