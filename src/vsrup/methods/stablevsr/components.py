"""Loading the SD ×4-upscaler components StableVSR and DGAF-VSR share, real or synthetic.

Everything heavy is imported inside the functions: method modules must stay cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vsrup.errors import UsageError, WeightsError
from vsrup.hub.registry import missing_weights
from vsrup.methods.stablevsr import config as configs
from vsrup.nn.clip_text import load_prompt_encoder

if TYPE_CHECKING:
    import torch

    from vsrup.hub.registry import WeightSet
    from vsrup.interface.method import MethodOptions
    from vsrup.interface.runtime import Runtime

FLOW_ID = "raft-large"
SUBFOLDERS = ("unet", "vae", "scheduler", "text_encoder", "tokenizer")


@dataclass
class Base:
    """The frozen denoiser, decoder, noise schedule and the empty-prompt embedding."""

    unet: Any
    vae: Any
    scheduler_config: dict[str, Any]
    prompt_embeds: torch.Tensor


@dataclass(frozen=True)
class Choices:
    """Method-specific options from `--opt key=value` (see docs/methods/stablevsr-dgaf.md)."""

    scheduler: str = "ddpm"
    warp: str = "official"
    raft_norm: str = "per_sample"
    flow_batch: int = 2
    flow_updates: int = 12
    conditioning_scale: float = 1.0

    @classmethod
    def parse(cls, extra: dict[str, Any]) -> Choices:
        allowed = {
            "scheduler": ("ddpm", "ddim"),
            "warp": ("official", "exact"),
            "raft_norm": ("per_sample", "running"),
        }
        values: dict[str, Any] = {}
        for key, raw in extra.items():
            if key in allowed:
                if str(raw) not in allowed[key]:
                    raise UsageError(
                        f"--opt {key}={raw} is not valid", hint=f"use one of {allowed[key]}"
                    )
                values[key] = str(raw)
            elif key in ("flow_batch", "flow_updates", "conditioning_scale"):
                try:
                    values[key] = float(raw) if key == "conditioning_scale" else int(raw)
                except ValueError:
                    raise UsageError(f"--opt {key}={raw} is not a number") from None
            else:
                known = ", ".join([*allowed, "flow_batch", "flow_updates", "conditioning_scale"])
                raise UsageError(f"unknown option --opt {key}", hint=f"known: {known}")
        return cls(**values)


def synthetic_size(options: MethodOptions) -> str | None:
    size = options.synthetic_weights
    if size not in (None, "tiny", "full"):
        raise UsageError(f"--synthetic-weights {size} is not valid", hint="use tiny or full")
    return size


def _check_dir(root: Path, model_id: str, subfolders: tuple[str, ...]) -> None:
    for sub in subfolders:
        if not (root / sub).is_dir():
            raise WeightsError(
                f"the {model_id!r} snapshot has no {sub}/ folder",
                path=root,
                hint=f"run: vsrup models download {model_id}",
            )


def load_base(root: Path | None, model_id: str, runtime: Runtime, prompt: str = "") -> Base:
    """UNet, VAE, scheduler config and prompt embedding from a diffusers-layout snapshot."""
    import json

    from diffusers import AutoencoderKL, UNet2DConditionModel

    if root is None or not root.is_dir():
        raise missing_weights(model_id)
    _check_dir(root, model_id, SUBFOLDERS)
    dtype = runtime.dtype
    unet = UNet2DConditionModel.from_pretrained(root / "unet", torch_dtype=dtype)
    vae = AutoencoderKL.from_pretrained(root / "vae", torch_dtype=vae_dtype(runtime))
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
