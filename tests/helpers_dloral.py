"""Helpers for the dloral tests: official-layout checkpoints without the official code."""

from __future__ import annotations

import json
from pathlib import Path

import torch

#: Copied from the reference material (tests/fixtures/manifests/README.md says how it was made).
MANIFEST = Path(__file__).resolve().parent / "fixtures/manifests/dloral_model_pkl.json"
LIST_KEYS = {
    "encoder": "unet_lora_encoder_modules_{}",
    "decoder": "unet_lora_decoder_modules_{}",
    "others": "unet_lora_others_modules_{}",
}


def official_checkpoint(net, ranks: dict[str, int] | None = None) -> dict:  # noqa: ANN001
    """What the official `Generator.save_model` writes, for an unmerged `DLoRALNet`.

    Our unmerged peft-wrapped UNet has exactly the official parameter names (a test checks
    that against the manifest at the full config), so its state dict *is* `state_dict_unet`.
    """
    from vsrup.methods.dloral.model import lora_targets

    ranks = ranks or {"quality": 4, "consistency": 4}
    groups = lora_targets(_unwrapped_names(net.unet))
    ckpt: dict = {}
    for kind in ("quality", "consistency"):
        for group, pattern in LIST_KEYS.items():
            ckpt[pattern.format(kind)] = list(groups[group])
    ckpt["lora_rank_unet_quality"] = ranks["quality"]
    ckpt["lora_rank_unet_consistency"] = ranks["consistency"]
    ckpt["state_dict_unet"] = {k: v.clone() for k, v in net.unet.state_dict().items()}
    ckpt["state_dict_bpp"] = {k: v.clone() for k, v in net.cfr.state_dict().items()}
    return ckpt


class _Names:
    """named_parameters() of the UNet as it was before peft wrapped it."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def named_parameters(self):  # noqa: ANN201
        return ((n, None) for n in self.names)


def _unwrapped_names(unet) -> _Names:  # noqa: ANN001
    names = []
    for n, _ in unet.named_parameters():
        if ".lora_" in n:
            continue
        names.append(n.replace(".base_layer.", "."))
    return _Names(names)


def manifest_checkpoint() -> dict:
    """The full official model.pkl layout from the manifest, as meta tensors (no memory)."""
    manifest = json.loads(MANIFEST.read_text())
    ckpt = dict(manifest["top_level"])
    for section in ("unet", "bpp"):
        ckpt[f"state_dict_{section}"] = {
            k: torch.empty(shape, device="meta")
            for k, (shape, _) in manifest[f"tensors_{section}"].items()
        }
    return ckpt


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "dloral"


def fixture_model_pkl(path: Path) -> dict[str, torch.Tensor]:
    """The official model.pkl of the parity fixtures (tools/parity/dloral.py wrote its tensors
    with the official key names) saved at `path`; returns its `state_dict_unet` in fp32."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    def fp32(name: str) -> dict[str, torch.Tensor]:
        return {k: v.float() for k, v in load_file(FIXTURES / name).items()}

    with safe_open(str(FIXTURES / "weights_unet.safetensors"), framework="pt") as fh:
        meta = fh.metadata()
    ckpt: dict = dict(json.loads(meta["lists"]))
    ranks = json.loads(meta["ranks"])
    ckpt["lora_rank_unet_quality"] = ranks["quality"]
    ckpt["lora_rank_unet_consistency"] = ranks["consistency"]
    ckpt["state_dict_unet"] = fp32("weights_unet.safetensors")
    ckpt["state_dict_bpp"] = {
        **fp32("weights_cfr_a.safetensors"),
        **fp32("weights_cfr_b.safetensors"),
    }
    torch.save(ckpt, path)
    return ckpt["state_dict_unet"]
