"""`vsrup models import dloral model.pkl`: the official checkpoint → our safetensors layout.

The official `model.pkl` (a `torch.save` dict) holds six target-module lists, two LoRA ranks,
`state_dict_unet` (the whole peft-wrapped UNet, SD base weights included) and
`state_dict_bpp` (the CFR module). The official loader copies *every* UNet tensor from the file
(its test `if "lora" or "conv_in" in n` is always true), so the file's base weights are the ones
the official run uses, whatever SD 2.1 download sits beside it. We keep all of them:

    unet.<official state_dict_unet key>     (peft names: `<m>.base_layer.*`, `<m>.lora_{A,B}.*`)
    cfr.<official state_dict_bpp key>

plus metadata `dloral.ranks` and `dloral.targets` (JSON). Loading is strict (see
`model.load_stored_state`): every key and shape is checked against the built network.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from vsrup.errors import WeightsError
from vsrup.hub.safe_load import save_state_dict

FORMAT = "vsrup-dloral/2"  # /1 kept only conv_in and the LoRAs (base from SD 2.1)
FILENAME = "model.safetensors"
GROUPS = ("encoder", "decoder", "others")
KINDS = ("quality", "consistency")
#: Official adapter names, in the order the official code adds them.
ADAPTERS = tuple(f"default_{g}_{k}" for k in KINDS for g in GROUPS)


def _list_key(adapter: str) -> str:
    _, group, kind = adapter.split("_")
    return f"unet_lora_{group}_modules_{kind}"


def map_official(
    ckpt: dict, source: str = "model.pkl"
) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Map an official checkpoint dict to (our tensors, our metadata); checks the layout."""

    def fail(problem: str) -> WeightsError:
        return WeightsError(
            f"is not a DLoRAL model.pkl: {problem}",
            path=source,
            hint="use the official DLoRAL checkpoint (model.pkl from the project page)",
        )

    if not isinstance(ckpt, dict):
        raise fail(f"top level is {type(ckpt).__name__}, not a dict")
    needed = [_list_key(a) for a in ADAPTERS] + [f"lora_rank_unet_{k}" for k in KINDS]
    needed += ["state_dict_unet", "state_dict_bpp"]
    absent = [k for k in needed if k not in ckpt]
    if absent:
        raise fail("missing " + ", ".join(absent))
    ranks = {k: int(ckpt[f"lora_rank_unet_{k}"]) for k in KINDS}
    targets = {a: [str(m) for m in ckpt[_list_key(a)]] for a in ADAPTERS}
    unet_sd, cfr_sd = ckpt["state_dict_unet"], ckpt["state_dict_bpp"]

    for key in ("conv_in.base_layer.weight", "conv_in.base_layer.bias"):
        if key not in unet_sd:
            raise fail(f"state_dict_unet has no {key}")
    if unet_sd["conv_in.base_layer.weight"].shape[1] != 8:
        raise fail("conv_in does not take 8 channels")

    wanted: set[str] = set()
    for adapter, modules in targets.items():
        rank = ranks[adapter.rsplit("_", 1)[1]]
        for module in modules:
            a, b = f"{module}.lora_A.{adapter}.weight", f"{module}.lora_B.{adapter}.weight"
            for key in (a, b):
                if key not in unet_sd:
                    raise fail(f"state_dict_unet has no {key}")
            if unet_sd[a].shape[0] != rank or unet_sd[b].shape[1] != rank:
                raise fail(f"{module} ({adapter}) does not have rank {rank}")
            wanted.update((a, b))
    stray = sorted(k for k in unet_sd if ".lora_" in k and k not in wanted)
    if stray:
        raise fail(f"{len(stray)} LoRA tensors outside the target lists, e.g. {stray[0]}")
    out = {f"unet.{k}": v for k, v in unet_sd.items()}
    out.update({f"cfr.{k}": v for k, v in cfr_sd.items()})
    bad = [k for k, v in out.items() if not isinstance(v, torch.Tensor)]
    if bad:
        raise fail(f"{bad[0]} is not a tensor")
    meta = {
        "format": FORMAT,
        "dloral.ranks": json.dumps(ranks),
        "dloral.targets": json.dumps(targets),
    }
    return out, meta


def convert_official(src: Path, dst_dir: Path) -> Path:
    """Convert the official model.pkl; returns the written `model.safetensors`."""
    src, dst_dir = Path(src), Path(dst_dir)
    try:
        ckpt = torch.load(src, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError("file not found", path=src) from None
    except Exception as exc:  # an unsafe, truncated or foreign pickle
        raise WeightsError(
            f"cannot be loaded safely ({exc.__class__.__name__})",
            path=src,
            hint="expected the official DLoRAL model.pkl",
        ) from None
    state, meta = map_official(ckpt, str(src))
    dst_dir.mkdir(parents=True, exist_ok=True)
    return save_state_dict(state, dst_dir / FILENAME, metadata=meta)


def read_converted(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, int], dict]:
    """Our converted file → (tensors, ranks, targets per adapter); WeightsError when foreign."""
    from safetensors import safe_open

    if not path.is_file():
        raise WeightsError("not found", path=path, hint="run: vsrup models import dloral model.pkl")
    try:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
            state = {k: fh.get_tensor(k) for k in fh.keys()}  # noqa: SIM118
    except Exception as exc:
        raise WeightsError(f"unreadable safetensors file ({exc})", path=path) from None
    if meta.get("format") != FORMAT:
        raise WeightsError(
            f"not a converted DLoRAL checkpoint (format {meta.get('format')!r})",
            path=path,
            hint="re-import: vsrup models import dloral model.pkl",
        )
    return state, json.loads(meta["dloral.ranks"]), json.loads(meta["dloral.targets"])
