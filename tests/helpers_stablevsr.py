"""Test helpers for stablevsr/dgaf: fixture loading and tiny components."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def load_case(
    method: str, case: str | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """A fixture case: `case.safetensors`, or `case_<case>.safetensors` (more frames)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    path = FIXTURES / method / (f"case_{case}.safetensors" if case else "case.safetensors")
    with safe_open(str(path), "pt") as fh:
        meta = json.loads(fh.metadata()["json"])
    return load_file(str(path)), meta


def load_weights(method: str, name: str) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(str(FIXTURES / method / f"{name}.safetensors"))


def flows_of(case: dict[str, torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    fwd, bwd = case["forward_flows"], case["backward_flows"]
    return [f[None] for f in fwd], [b[None] for b in bwd]


def lr01(case: dict[str, torch.Tensor]) -> torch.Tensor:
    """(N, 3, h, w) in [0, 1] from the fixture's uint8 HWC frames."""
    return case["lr_uint8"].permute(0, 3, 1, 2).float() / 255.0


def tiny_base(meta: dict[str, Any], method: str) -> tuple[Any, Any, Any]:
    """UNet, VAE, DDPM scheduler from a fixture's configs and weights (strict loads)."""
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

    unet = UNet2DConditionModel(**meta["unet"]).eval()
    unet.load_state_dict(load_weights(method, "unet"), strict=True)
    vae = AutoencoderKL(**meta["vae"]).eval()
    vae.load_state_dict(load_weights(method, "vae"), strict=True)
    return unet, vae, DDPMScheduler.from_config(meta["scheduler"])


def official_dgafnet() -> Any:
    """Our DGAFNet loaded from the official save_pretrained folder through the converter's
    loader (strict: every key and shape checked)."""
    from vsrup.methods.dgaf.convert import load_dgafnet

    folder = FIXTURES / "dgaf" / "dgafnet"
    config = json.loads((folder / "config.json").read_text())
    return load_dgafnet(folder / "diffusion_pytorch_model.safetensors", config).eval()
