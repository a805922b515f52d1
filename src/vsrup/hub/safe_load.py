"""Loading checkpoints without running code from them, and checking what was loaded.

safetensors files are memory-mapped. Pickle-based files (.bin, .pth, .pt, .pkl, .ckpt) go only
through `torch.load(weights_only=True)`, which rebuilds tensors and plain containers and refuses
any other class; a refusal becomes a WeightsError naming the class the file wanted to run.
"""

from __future__ import annotations

import os
import pickle
import re
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsrup.errors import WeightsError

if TYPE_CHECKING:
    import torch

SAFETENSORS_SUFFIXES = (".safetensors",)
PICKLE_SUFFIXES = (".bin", ".pth", ".pt", ".pkl", ".ckpt", ".tar")
#: Wrappers that training scripts put around a state dict, tried in this order.
_WRAPPER_KEYS = ("state_dict", "params_ema", "params", "model", "module", "net")
_GLOBAL = re.compile(r"GLOBAL ([\w.]+)")
_SHOWN = 8  # key names listed in an error before "and N more"


def is_safetensors(path: Path) -> bool:
    return path.suffix.lower() in SAFETENSORS_SUFFIXES


def load_checkpoint(path: str | Path) -> Any:
    """Load any checkpoint file without executing code: safetensors or a weights-only pickle.

    Returns a tensor dict for safetensors; for pickles, whatever containers of tensors and
    plain values the file holds (the official DLoRAL model.pkl is a dict of lists and dicts).
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError("weights file not found", path=path)
    if is_safetensors(path):
        return _load_safetensors(path)
    return _load_pickle(path)


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A flat {name: tensor} dict from a safetensors file or a weights-only pickle."""
    import torch

    path = Path(path)
    obj = load_checkpoint(path)
    if isinstance(obj, Mapping) and not _all_tensors(obj):
        for key in _WRAPPER_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and _all_tensors(inner):
                obj = inner
                break
    if not isinstance(obj, Mapping) or not _all_tensors(obj):
        top = ", ".join(map(str, list(obj)[:_SHOWN])) if isinstance(obj, Mapping) else type(obj)
        raise WeightsError(
            f"not a plain state dict (top level: {top})",
            path=path,
            hint="this file needs a converter: vsrup models import ID FILE",
        )
    return {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}


def _all_tensors(obj: Mapping[Any, Any]) -> bool:
    import torch

    return bool(obj) and all(isinstance(v, torch.Tensor) for v in obj.values())


def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")  # memory-mapped by safetensors
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"not a valid safetensors file ({exc})", path=path) from None


def _load_pickle(path: Path) -> Any:
    import torch

    try:
        try:
            return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            # mmap needs torch's zip format; old-style pickles load without it.
            if "mmap" not in str(exc):
                raise
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        found = _GLOBAL.search(str(exc))
        what = f"the class {found.group(1)}" if found else "objects other than tensors"
        raise WeightsError(
            f"refused to load: this pickle needs {what}, which could run arbitrary code",
            path=path,
            hint="ask for a safetensors or plain state-dict file; vsrup never unpickles code",
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise WeightsError(f"cannot read this checkpoint ({exc})", path=path) from None


def save_state_dict(
    state: Mapping[str, torch.Tensor], path: str | Path, metadata: dict[str, str] | None = None
) -> Path:
    """Write a safetensors file atomically (temporary name, then rename)."""
    from safetensors.torch import save_file

    path = Path(path)
    seen: set[int] = set()
    tensors: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        t = tensor.detach().to("cpu").contiguous()
        # safetensors refuses tensors that share memory (tied weights): give each its own copy.
        ptr = t.untyped_storage().data_ptr() if t.numel() else 0
        if ptr and ptr in seen:
            t = t.clone()
        seen.add(ptr)
        tensors[name] = t
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        save_file(tensors, str(tmp), metadata=metadata)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def check_keys(
    state: Mapping[str, Any],
    expected: Mapping[str, Sequence[int]],
    *,
    what: str = "checkpoint",
    path: str | Path | None = None,
    hint: str = "is this the right file for this model id/variant?",
) -> None:
    """Raise WeightsError naming every missing, unexpected or mis-shaped key (first few of each).

    The one strict key/shape check of the project. `expected` maps key names to tensors or
    shapes (a torch.Size or any int sequence), e.g. `model.state_dict()`.
    """
    want = {k: _shape(v) for k, v in expected.items()}
    missing = [k for k in want if k not in state]
    unexpected = [k for k in state if k not in want]
    wrong = [
        f"{k} {tuple(state[k].shape)} != {want[k]}"
        for k in want
        if k in state and tuple(state[k].shape) != want[k]
    ]
    problems = [
        _listing("missing", missing),
        _listing("unexpected", unexpected),
        _listing("wrong shape", wrong),
    ]
    problems = [p for p in problems if p]
    if problems:
        raise WeightsError(
            f"{what} does not match the model: " + "; ".join(problems),
            path=path,
            hint=hint,
        )


def _shape(value: Any) -> tuple[int, ...]:
    return tuple(value.shape) if hasattr(value, "shape") else tuple(value)


def _listing(label: str, items: list[str]) -> str:
    if not items:
        return ""
    shown = ", ".join(items[:_SHOWN])
    more = f" and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return f"{len(items)} {label} ({shown}{more})"
