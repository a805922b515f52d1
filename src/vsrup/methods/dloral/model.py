"""The DLoRAL network: SD 2.1-base UNet with an 8-channel `conv_in`, six LoRA adapters, CFR.

Official layout (yjsunnn/DLoRAL `initialize_unet`): `conv_in` becomes Conv2d(8, 320) whose two
4-channel halves start as copies of the base kernel (input channels 0–3: the previous latent
warped by CFR, 4–7: the fused current latent). LoRA targets come from one grep over the UNet's
weight names, split by where the module sits: `down_blocks`/`conv_in` → encoder, `up_blocks`/
`conv_out` → decoder, the rest (the mid block) → others. Each group carries a "quality" and a
"consistency" adapter (rank 4, peft's default alpha 8). Inference enables all six, so we merge
them into the base weights once after loading.
"""

from __future__ import annotations

import warnings

import torch
from diffusers import UNet2DConditionModel
from peft import LoraConfig
from torch import nn

from vsrup.hub.safe_load import check_keys
from vsrup.methods.dloral.cfr import CFRModule
from vsrup.methods.dloral.config import DEFAULT_RANK, TIMESTEP
from vsrup.methods.dloral.convert import ADAPTERS, GROUPS, KINDS  # official names and order

#: Substrings that select LoRA targets among weight names (official grep list).
_GREP = (
    "to_k", "to_q", "to_v", "to_out.0", "conv", "conv1", "conv2", "conv_in",
    "conv_shortcut", "conv_out", "proj_out", "proj_in", "ff.net.2", "ff.net.0.proj",
)  # fmt: skip


def widen_conv_in(unet: UNet2DConditionModel) -> None:
    """Replace conv_in by an 8-channel conv whose halves copy the base kernel (official init)."""
    old = unet.conv_in
    new = nn.Conv2d(2 * old.in_channels, old.out_channels, 3, padding=1)
    new = new.to(device=old.weight.device, dtype=old.weight.dtype)
    if old.weight.device.type != "meta":
        with torch.no_grad():
            new.weight.copy_(torch.cat([old.weight, old.weight], dim=1))
            new.bias.copy_(old.bias)
    unet.conv_in = new
    unet.register_to_config(in_channels=new.in_channels)


def lora_targets(unet: nn.Module) -> dict[str, list[str]]:
    """Target module names per group, by the official grep over weight names."""
    groups: dict[str, list[str]] = {g: [] for g in GROUPS}
    for name, _ in unet.named_parameters():
        if "bias" in name or "norm" in name:
            continue
        if not any(p in name for p in _GREP):
            continue
        module = name.removesuffix(".weight")
        if "down_blocks" in name or "conv_in" in name:
            groups["encoder"].append(module)
        elif "up_blocks" in name or "conv_out" in name:
            groups["decoder"].append(module)
        else:
            groups["others"].append(module)
    return groups


def adapter_targets(groups: dict[str, list[str]]) -> dict[str, list[str]]:
    """Targets per adapter name from targets per group (both kinds share a group's list)."""
    return {name: list(groups[name.split("_")[1]]) for name in ADAPTERS}


def add_adapters(
    unet: UNet2DConditionModel, targets: dict[str, list[str]], ranks: dict[str, int]
) -> None:
    """Add the six adapters with peft, as the official code does; all six are active.

    `targets` maps adapter name → module names; `ranks` maps "quality"/"consistency" → r.
    """
    with warnings.catch_warnings():
        # peft warns that a model holding several adapters is unusual: it is the design here.
        warnings.simplefilter("ignore", UserWarning)
        for name in ADAPTERS:
            kind = name.rsplit("_", 1)[1]
            config = LoraConfig(
                r=ranks[kind], init_lora_weights="gaussian", target_modules=targets[name]
            )
            unet.add_adapter(config, adapter_name=name)
    unet.set_adapter(list(ADAPTERS))


def merge_adapters(unet: nn.Module) -> None:
    """Fold every active LoRA into its base layer and drop the peft wrappers."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    wrapped = [(n, m) for n, m in unet.named_modules() if isinstance(m, BaseTunerLayer)]
    for name, module in wrapped:
        module.merge(adapter_names=list(module.lora_A.keys()))
        parent_name, _, child = name.rpartition(".")
        parent = unet.get_submodule(parent_name) if parent_name else unet
        setattr(parent, child, module.get_base_layer())
    for attr in ("peft_config", "_hf_peft_config_loaded"):
        if hasattr(unet, attr):
            delattr(unet, attr)


class DLoRALNet(nn.Module):
    """One DLoRAL step on a pair of latents: CFR fusion, then x0 = fused − UNet(...)."""

    def __init__(self, unet: UNet2DConditionModel, cfr: CFRModule) -> None:
        super().__init__()
        self.unet = unet
        self.cfr = cfr

    def forward(
        self,
        prev_latent: torch.Tensor,
        cur_latent: torch.Tensor,
        prev_image: torch.Tensor,
        cur_image: torch.Tensor,
        prompt_embeds: torch.Tensor,
    ) -> torch.Tensor:
        warped, fused = self.cfr(prev_latent, cur_latent, prev_image, cur_image)
        t = torch.full((fused.shape[0],), TIMESTEP, device=fused.device, dtype=torch.long)
        embeds = prompt_embeds.expand(fused.shape[0], -1, -1).to(fused.dtype)
        pred = self.unet(torch.cat([warped, fused], dim=1), t, encoder_hidden_states=embeds).sample
        return fused - pred


def build_net(
    unet: UNet2DConditionModel,
    ranks: dict[str, int] | None = None,
    targets: dict[str, list[str]] | None = None,
    cfr_mid_channels: int = 64,
) -> DLoRALNet:
    """Widen `unet` (a base SD UNet), add the adapters and a fresh CFR module (unmerged)."""
    widen_conv_in(unet)
    ranks = ranks or dict.fromkeys(KINDS, DEFAULT_RANK)
    add_adapters(unet, targets or adapter_targets(lora_targets(unet)), ranks)
    device = unet.conv_in.base_layer.weight.device
    with torch.device(device):
        cfr = CFRModule(mid_channels=cfr_mid_channels)
    return DLoRALNet(unet, cfr)


def stored_state(net: DLoRALNet) -> dict[str, torch.Tensor]:
    """What our checkpoint holds: the whole unmerged network (base UNet weights included, as
    the official loader takes them all from model.pkl)."""
    return dict(net.state_dict())


def load_stored_state(net: DLoRALNet, state: dict[str, torch.Tensor], source: str) -> None:
    """Strictly load our checkpoint into an unmerged net: every key and shape, or a clear error."""
    check_keys(
        state,
        stored_state(net),
        what="checkpoint (DLoRAL layout)",
        path=source,
        hint="re-import the official model.pkl: vsrup models import dloral model.pkl",
    )
    net.load_state_dict(state, strict=False, assign=net.cfr.conv_hr.weight.is_meta)
