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


# -- end-to-end fixtures (tools/parity/stablevsr_e2e.py, tests/e2e/test_stablevsr_parity_cli.py)

E2E = FIXTURES / "stablevsr_e2e"
#: RAFT-large's random weights: our module's initialisation after this seed (21 MB: too large
#: to store, so both sides rebuild them; the fixture keeps their digest to catch a change).
RAFT_SEED = 19


def text_encoder_weights() -> dict[str, torch.Tensor]:
    """The end-to-end fixtures' CLIP text encoder weights (stored: they must not depend on
    how a transformers version initialises a model)."""
    from safetensors.torch import load_file

    return load_file(str(E2E / "text_encoder.safetensors"))


def clip_snapshot(root: Path) -> tuple[Any, Any]:
    """`root/tokenizer` and `root/text_encoder` (tests.helpers_clip's tiny CLIP, with the
    stored weights once the fixture exists); returns (tokenizer, text encoder)."""
    from transformers import CLIPTextModel, CLIPTokenizer

    from tests.helpers_clip import tiny_clip_snapshot

    tiny_clip_snapshot(root)
    encoder = CLIPTextModel.from_pretrained(root / "text_encoder").eval()
    if (E2E / "text_encoder.safetensors").is_file():
        encoder.load_state_dict(text_encoder_weights(), strict=True)
        encoder.save_pretrained(root / "text_encoder")
    return CLIPTokenizer.from_pretrained(root / "tokenizer"), encoder


def raft_state() -> dict[str, torch.Tensor]:
    """RAFT-large with random weights, rebuilt identically (torchvision's key names)."""
    from vsrup.nn.raft import RAFT

    with torch.random.fork_rng():
        torch.manual_seed(RAFT_SEED)
        return RAFT().state_dict()


def state_digest(state: dict[str, torch.Tensor]) -> str:
    import hashlib

    h = hashlib.sha256()
    for key in sorted(state):
        h.update(key.encode())
        h.update(state[key].detach().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def e2e_snapshot(method: str, root: Path) -> dict[str, Path]:
    """Weights as `vsrup` finds them for real runs, built from the fixtures the official run
    used: a diffusers-layout `stablevsr` snapshot (the method's tiny UNet and VAE, the DDPM
    config, the tokenizer and text encoder, StableVSR's ControlNet), the DGAFNet imported
    with `vsrup.methods.dgaf.convert`, RAFT-large as a safetensors file. Returns the
    `VSRUP_WEIGHTS_<ID>` environment for them."""
    from diffusers import ControlNetModel, UNet2DConditionModel
    from safetensors.torch import save_file

    _, meta = load_case(method)
    base = root / "stablevsr"
    unet, vae, _ = tiny_base(meta, method)
    unet.save_pretrained(base / "unet")
    vae.save_pretrained(base / "vae")
    (base / "scheduler").mkdir(parents=True)
    (base / "scheduler" / "scheduler_config.json").write_text(json.dumps(meta["scheduler"]))
    clip_snapshot(base)
    env = {"VSRUP_WEIGHTS_STABLEVSR": base}
    if method == "stablevsr":
        controlnet = ControlNetModel.from_unet(
            UNet2DConditionModel(**meta["unet"]),
            conditioning_embedding_out_channels=tuple(meta["controlnet_embedding"]),
        )
        controlnet.load_state_dict(load_weights("stablevsr", "controlnet"), strict=True)
        controlnet.save_pretrained(base / "controlnet")
    else:
        from vsrup.methods.dgaf.convert import convert_official

        convert_official(FIXTURES / "dgaf" / "dgafnet", root / "dgaf")
        env["VSRUP_WEIGHTS_DGAF"] = root / "dgaf"
    (root / "raft").mkdir()
    save_file(raft_state(), str(root / "raft" / "model.safetensors"))
    env["VSRUP_WEIGHTS_RAFT_LARGE"] = root / "raft" / "model.safetensors"
    return env
