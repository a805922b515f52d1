"""StableVSR's networks, assembled: the SD ×4 upscaler base (UNet, VAE, noise schedule, prompt
embedding) that DGAF-VSR shares, StableVSR's ControlNet, and the RAFT flow model; each loaded
from a strictly checked snapshot (`methods.sd_family.Snapshot`) or random at a synthetic size
(`config`).

Everything heavy is imported inside the functions: method modules must stay cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsrup.hub.registry import missing_weights
from vsrup.methods.sd_family import SDComponents, Snapshot, load_checked, place, vae_dtype
from vsrup.methods.stablevsr import config as configs
from vsrup.nn.clip_text import load_prompt_encoder

if TYPE_CHECKING:
    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime

FLOW_ID = "raft-large"
#: The SD ×4 upscaler base StableVSR and DGAF-VSR share (the ControlNet is StableVSR's own).
BASE_FOLDERS = ("unet", "vae", "scheduler", "text_encoder", "tokenizer")
#: SD VAEs overflow in fp16 (diffusers' `force_upcast`), so fp16 runs decode in fp32.
UPCAST_VAE = True


@dataclass
class Base(SDComponents):
    """The frozen denoiser, decoder, noise schedule and the prompt embedding."""

    unet: Any
    vae: Any
    scheduler_config: dict[str, Any]
    prompt_embeds: torch.Tensor


def load_base(root: Path | None, model_id: str, runtime: Runtime, prompt: str = "") -> Base:
    """UNet, VAE, scheduler config and prompt embedding from a diffusers-layout snapshot,
    every network checked key by key."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    snapshot = Snapshot.open(root, model_id, BASE_FOLDERS)
    dtype = runtime.dtype
    unet = snapshot.load(UNet2DConditionModel, "unet", dtype)
    vae = snapshot.load(AutoencoderKL, "vae", vae_dtype(dtype, UPCAST_VAE))
    # The text encoder is dropped once the prompt (empty, officially) is encoded.
    emb = load_prompt_encoder(snapshot.root, model_id, runtime.device)(prompt)
    return Base(
        unet=place(unet, runtime.device, dtype),
        vae=place(vae, runtime.device, vae.dtype),
        scheduler_config=snapshot.scheduler_config(),
        prompt_embeds=emb.to(runtime.device, dtype),
    )


def synthetic_base(size: str, runtime: Runtime, seed: int) -> Base:
    """Random UNet/VAE at `size` ("tiny" for tests, "full" for GPU timing runs). Draws from the
    global generator: call under `vsrup.util.seeding.seeded(seed)` (the prompt embedding has
    its own generator, seeded with `seed`)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    unet = UNet2DConditionModel(**configs.unet_config(size))
    vae = AutoencoderKL(**configs.vae_config(size))
    tokens = configs.FULL_TOKENS if size == "full" else configs.TINY_TOKENS
    gen = torch.Generator().manual_seed(seed)
    emb = torch.randn((1, tokens, unet.config.cross_attention_dim), generator=gen)
    return Base(
        unet=place(unet, runtime.device, runtime.dtype),
        vae=place(vae, runtime.device, vae_dtype(runtime.dtype, UPCAST_VAE)),
        scheduler_config=dict(configs.SCHEDULER),
        prompt_embeds=emb.to(runtime.device, runtime.dtype),
    )


def load_flow(weights: WeightSet | None, synthetic: bool, runtime: Runtime, norm: str) -> Any:
    """RAFT-large from the `raft-large` registry entry (random when weights are synthetic)."""
    import torch

    from vsrup.nn.raft import RAFT, load_raft

    if synthetic:
        torch.manual_seed(0)
        return RAFT(context_norm=norm).to(runtime.device).eval().requires_grad_(False)
    root = weights.get(FLOW_ID) if weights is not None else None
    if root is None or not Path(root).exists():
        raise missing_weights(FLOW_ID)
    root = Path(root)
    files = (
        [root]
        if root.is_file()
        else sorted(root.glob("*.safetensors")) + sorted(root.glob("*.pth"))
    )
    if not files:
        raise missing_weights(FLOW_ID)
    return load_raft(files[0], runtime.device, norm)


def build_controlnet(unet: Any, size: str) -> Any:
    """StableVSR's ControlNet shape: `ControlNetModel.from_unet` with a 3-channel RGB
    conditioning embedding that downsamples ×4 (random weights for synthetic runs)."""
    from diffusers import ControlNetModel

    return ControlNetModel.from_unet(
        unet, conditioning_embedding_out_channels=configs.controlnet_embedding(size)
    )


def load_controlnet(root: Path, runtime: Runtime) -> Any:
    """The trained ControlNet of a `stablevsr` snapshot (`controlnet/`), checked strictly."""
    from diffusers import ControlNetModel

    return load_checked(ControlNetModel, Path(root) / "controlnet", runtime.dtype, "stablevsr")
