"""Helpers shared by the StableVSR and DGAF-VSR parity scripts (tiny random components).

The parity scripts run the *official* pipelines on CPU at a tiny configuration and save their
inputs, weights and outputs as small safetensors fixtures; tests/unit/test_stablevsr_parity.py
runs our pipelines on the same fixtures. Nothing here is imported by the package.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))

from vsrup.methods.stablevsr import config as configs  # noqa: E402

N_FRAMES, LR_H, LR_W = 3, 16, 16
SEED = 1234


def stub_torchvision() -> None:
    """The official pipelines `import torchvision.transforms` but never use it; torchvision
    does not import beside our torch, so an empty stand-in module is enough. diffusers and
    transformers probe for torchvision when first imported, so import them before this."""
    import diffusers.pipelines  # noqa: F401
    import transformers  # noqa: F401

    tv = types.ModuleType("torchvision")
    tvt = types.ModuleType("torchvision.transforms")
    tv.transforms = tvt  # type: ignore[attr-defined]
    sys.modules.setdefault("torchvision", tv)
    sys.modules.setdefault("torchvision.transforms", tvt)


def bypass_torchvision(root: Path) -> None:
    """Make `import torchvision.X` find the real modules of an unpacked torchvision wheel
    (`root` = its `torchvision/` folder) without running the package's `__init__`, whose
    compiled ops do not load beside our torch (RAFT and the transforms do not need them).
    diffusers and transformers probe torchvision when first imported: they are imported
    before the bypass, so they keep their own view."""
    import diffusers.pipelines  # noqa: F401
    import transformers  # noqa: F401

    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    pkg = types.ModuleType("torchvision")
    pkg.__path__ = [str(root)]  # type: ignore[attr-defined]
    sys.modules["torchvision"] = pkg


def shim_new_diffusers() -> list[str]:
    """Names the 0.21-era pipeline imports that newer diffusers moved or dropped; each is
    aliased to its current equivalent. Returns what was aliased (printed by the scripts)."""
    import diffusers
    import diffusers.loaders as loaders
    import diffusers.pipelines.controlnet as pc

    done = []
    if not hasattr(pc, "MultiControlNetModel"):
        from diffusers.models.controlnets import MultiControlNetModel

        pc.MultiControlNetModel = MultiControlNetModel
        done.append("diffusers.pipelines.controlnet.MultiControlNetModel")
    if not hasattr(loaders, "LoraLoaderMixin"):
        loaders.LoraLoaderMixin = loaders.StableDiffusionLoraLoaderMixin
        done.append("diffusers.loaders.LoraLoaderMixin")
    utils = diffusers.utils
    for name in ("is_accelerate_version",):
        if not hasattr(utils, name):
            setattr(utils, name, lambda *a, **k: False)
            done.append(f"diffusers.utils.{name}")
    return done


def lr_frames() -> np.ndarray:
    """(N, H, W, 3) uint8 frames: a smooth moving pattern plus noise, deterministic."""
    rng = np.random.default_rng(7)
    yy, xx = np.mgrid[0:LR_H, 0:LR_W].astype(np.float32)
    frames = []
    for k in range(N_FRAMES):
        base = 0.5 + 0.4 * np.sin((xx + 2 * k) / 5.0)[..., None] * np.cos(yy / 7.0)[..., None]
        img = base + 0.1 * rng.standard_normal((LR_H, LR_W, 3))
        frames.append(np.clip(img * 255, 0, 255).round().astype(np.uint8))
    return np.stack(frames)


def smooth_flows(seed: int) -> torch.Tensor:
    """(N−1, 4H, 4W, 2) smooth flows of a few pixels, standing in for RAFT."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn((N_FRAMES - 1, 2, 4, 4), generator=g) * 3.0
    fine = torch.nn.functional.interpolate(
        coarse, size=(4 * LR_H, 4 * LR_W), mode="bicubic", align_corners=False
    )
    return fine.permute(0, 2, 3, 1).contiguous()


class FakeRaft:
    """Stands in for torchvision's RAFT: replays the given flows in the official call order
    (f_1, b_1, f_2, b_2, …) as a list of predictions (B, 2, H, W)."""

    def __init__(self, fwd: torch.Tensor, bwd: torch.Tensor) -> None:
        self.queue = []
        for i in range(fwd.shape[0]):
            self.queue += [fwd[i : i + 1], bwd[i : i + 1]]

    def __call__(self, target: torch.Tensor, source: torch.Tensor) -> list[torch.Tensor]:
        flow = self.queue.pop(0)
        return [flow.permute(0, 3, 1, 2).to(target.dtype)]


def randomise(module: torch.nn.Module, names: tuple[str, ...], seed: int, std: float = 0.5) -> None:
    """Give zero-initialised output convs random weights so the guidance path is exercised."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.startswith(names):
                p.copy_(torch.randn(p.shape, generator=g) * std)


def save(path: Path, tensors: dict[str, torch.Tensor], meta: dict[str, Any] | None = None) -> None:
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"json": json.dumps(meta)} if meta else None
    save_file({k: v.detach().contiguous().float() for k, v in tensors.items()}, str(path), metadata)
    size = path.stat().st_size
    print(f"wrote {path.relative_to(REPO)} ({size / 1e6:.2f} MB)")
    if size > 2_000_000:
        raise SystemExit(f"{path} is larger than 2 MB")


def base_configs() -> dict[str, Any]:
    return {
        "unet": configs.unet_config("tiny"),
        "vae": configs.vae_config("tiny"),
        "scheduler": dict(configs.SCHEDULER),
        "controlnet_embedding": list(configs.controlnet_embedding("tiny")),
    }
