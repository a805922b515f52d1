"""A user's LoRA on top of STCDiT (what `vsrup train stcdit` trains, `--weights` applies).

STCDiT's own checkpoint is already a peft LoRA (adapter "default", rank 128, on attention and
FFN linears). A fine-tune adds a second peft adapter, "finetune", to the same layers:
training keeps both active, only "finetune" trains. On disk it is peft's own format
(`adapter_config.json` + `adapter_model.safetensors`, as `LoraConfig.save_pretrained` and
`get_peft_model_state_dict` write it). For inference it is merged into the base linear weights
(peft's `get_delta_weight`, then the adapter is deleted), so an upscale costs what it did
without it.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch
from torch import nn

from vsrup.errors import WeightsError

ADAPTER = "finetune"
WEIGHTS_FILE = "adapter_model.safetensors"
#: q, k, v and output projections of the self-attention (video + anchor tokens) and of the
#: text cross-attention of every block: where the LQ structure meets the generative prior.
TARGETS = r"blocks\.\d+\.(attn1|attn2)\.(to_q|to_k|to_v|to_out\.0)"


def lora_layers(transformer: nn.Module, name: str = ADAPTER) -> list[nn.Module]:
    from peft.tuners.lora import LoraLayer

    return [m for m in transformer.modules() if isinstance(m, LoraLayer) and name in m.lora_A]


def _inject(transformer: nn.Module, config) -> None:  # noqa: ANN001
    """Add the "finetune" adapter next to STCDiT's own and keep both active."""
    from peft import inject_adapter_in_model

    with warnings.catch_warnings():
        # peft warns that the model already holds an adapter: that is the point here.
        warnings.filterwarnings("ignore", message="Already found a `peft_config`")
        inject_adapter_in_model(config, transformer, adapter_name=ADAPTER)
    for layer in lora_layers(transformer):
        # Injection makes the new adapter the only active one; STCDiT's must stay on.
        layer.set_adapter([*(a for a in layer.lora_A if a != ADAPTER), ADAPTER])


def add_adapter(transformer: nn.Module, rank: int, alpha: float) -> None:
    """A fresh "finetune" adapter (B = 0: the model's output is unchanged until trained);
    only its parameters require gradients afterwards."""
    from peft import LoraConfig

    _inject(transformer, LoraConfig(r=rank, lora_alpha=alpha, target_modules=TARGETS))
    for name, p in transformer.named_parameters():
        p.requires_grad_(f".{ADAPTER}." in name)


def save_adapter(transformer: nn.Module, directory: Path) -> None:
    """peft's adapter layout: adapter_config.json + adapter_model.safetensors."""
    from peft import get_peft_model_state_dict
    from safetensors.torch import save_file

    transformer.peft_config[ADAPTER].save_pretrained(str(directory))
    state = get_peft_model_state_dict(transformer, adapter_name=ADAPTER)
    save_file({k: v.detach().cpu().contiguous() for k, v in state.items()},
              str(directory / WEIGHTS_FILE))  # fmt: skip


def _read(directory: Path):  # noqa: ANN202
    from peft import LoraConfig
    from safetensors.torch import load_file

    try:
        config = LoraConfig.from_pretrained(str(directory))
        state = load_file(str(directory / WEIGHTS_FILE))
    except Exception as e:  # peft/safetensors raise many types for a bad file
        raise WeightsError(f"is not a readable LoRA adapter ({e})", path=directory) from None
    return config, state


def merge_adapter(transformer: nn.Module, directory: Path) -> None:
    """Load a saved adapter onto the transformer (peft) and merge it into the base weights."""
    from peft import set_peft_model_state_dict

    config, state = _read(directory)
    _inject(transformer, config)
    try:
        result = set_peft_model_state_dict(transformer, state, adapter_name=ADAPTER)
    except RuntimeError as e:  # shape mismatch: an adapter of another model size
        detail = str(e).splitlines()[-1].strip() or "shape mismatch"
        raise WeightsError(f"does not fit this model ({detail})", path=directory) from None
    missing = [k for k in result.missing_keys if f".{ADAPTER}." in k]
    if result.unexpected_keys or missing:
        keys = (result.unexpected_keys or missing)[:2]
        raise WeightsError(f"does not fit this model (keys {keys} ...)", path=directory)
    with torch.no_grad():
        for layer in lora_layers(transformer):
            base = layer.get_base_layer().weight
            base += layer.get_delta_weight(ADAPTER).to(base.dtype)
    remove_adapter(transformer)


def remove_adapter(transformer: nn.Module) -> None:
    """Delete the "finetune" adapter (STCDiT's own stays active)."""
    for layer in lora_layers(transformer):
        layer.delete_adapter(ADAPTER)
    transformer.peft_config.pop(ADAPTER, None)
