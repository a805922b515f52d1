"""StableVSR's networks, assembled: the SD ×4 upscaler base (UNet, VAE, noise schedule, prompt
embedding) that DGAF-VSR shares, StableVSR's ControlNet, and the RAFT flow model; each loaded
from a checked snapshot (`convert`) or random at a synthetic size (`config`).

Everything heavy is imported inside the functions: method modules must stay cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsrup.hub.registry import missing_weights
from vsrup.methods.stablevsr import config as configs
from vsrup.methods.stablevsr.convert import BASE_FOLDERS, load_checked, require_folders
from vsrup.nn.clip_text import load_prompt_encoder

if TYPE_CHECKING:
    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime

FLOW_ID = "raft-large"


@dataclass
class Base:
    """The frozen denoiser, decoder, noise schedule and the empty-prompt embedding."""

    unet: Any
    vae: Any
    scheduler_config: dict[str, Any]
    prompt_embeds: torch.Tensor


def load_base(root: Path | None, model_id: str, runtime: Runtime, prompt: str = "") -> Base:
    """UNet, VAE, scheduler config and prompt embedding from a diffusers-layout snapshot,
    every network checked key by key."""
    import json

    from diffusers import AutoencoderKL, UNet2DConditionModel

    if root is None or not root.is_dir():
        raise missing_weights(model_id)
    require_folders(root, model_id, BASE_FOLDERS)
    dtype = runtime.dtype
    unet = load_checked(UNet2DConditionModel, root / "unet", dtype, model_id)
    vae = load_checked(AutoencoderKL, root / "vae", vae_dtype(runtime), model_id)
    sched = json.loads((root / "scheduler" / "scheduler_config.json").read_text())
    # The text encoder is dropped once the prompt (empty, officially) is encoded.
    emb = load_prompt_encoder(root, model_id, runtime.device)(prompt)
    return Base(
        unet.to(runtime.device).eval(),
        vae.to(runtime.device).eval(),
        sched,
        emb.to(runtime.device, dtype),
    )


def vae_dtype(runtime: Runtime) -> torch.dtype:
    """SD VAEs overflow in fp16 (diffusers' `force_upcast`), so fp16 runs decode in fp32."""
    import torch

    return torch.float32 if runtime.dtype == torch.float16 else runtime.dtype


def place(model: Any, runtime: Runtime, dtype: torch.dtype | None = None) -> Any:
    """Move to the runtime device; cast only when the dtype differs (avoids diffusers' noise)."""
    dtype = dtype or runtime.dtype
    model = model.to(runtime.device)
    if model.dtype != dtype:
        model = model.to(dtype=dtype)
    return model.eval()


def synthetic_base(size: str, runtime: Runtime, seed: int) -> Base:
    """Random UNet/VAE at `size` ("tiny" for tests, "full" for GPU timing runs)."""
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    torch.manual_seed(seed)
    unet = UNet2DConditionModel(**configs.unet_config(size))
    vae = AutoencoderKL(**configs.vae_config(size))
    tokens = configs.FULL_TOKENS if size == "full" else configs.TINY_TOKENS
    gen = torch.Generator().manual_seed(seed)
    emb = torch.randn((1, tokens, unet.config.cross_attention_dim), generator=gen)
    return Base(
        place(unet, runtime),
        place(vae, runtime, vae_dtype(runtime)),
        dict(configs.SCHEDULER),
        emb.to(runtime.device, runtime.dtype),
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
