"""Official STCDiT checkpoints (`tiny_8k.bin`, `large_5k.bin`) → our layout.

The official files hold only what training changed: LoRA A/B matrices on the DiffSynth-named
Wan modules and the STCDiT extras, every key prefixed `pipe.dit.`. We rename the LoRA targets
to diffusers' names (`self_attn.q` → `attn1.to_q`, `ffn.0` → `ffn.net.0.proj`, ...) and keep
the extras' names (per-block convs move under `transformer.`). `native_to_ours` also renames a
native/DiffSynth Wan base state dict, for the parity fixtures and for users holding native
weights. The result is `model.safetensors` + `config.json` in `dst_dir`, written atomically
after every key and shape was checked against the model the variant builds (on meta).
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from vsrup.errors import WeightsError
from vsrup.hub.safe_load import check_keys
from vsrup.methods.ourlayout import read_state_dict, store_staged

PREFIX = "pipe.dit."
#: Signature tensor and its output width → variant.
SIGNATURE = "lq_key_frame_patch_embedding.weight"
VARIANT_BY_DIM = {1536: "tiny", 5120: "large"}

_ATTN = {"self_attn": "attn1", "cross_attn": "attn2"}
_PROJ = {"q": "to_q", "k": "to_k", "v": "to_v", "o": "to_out.0"}
_BLOCK_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(self_attn|cross_attn)\.([qkvo])\.(.*)"), "ATTN"),
    (re.compile(r"cross_attn\.k_img\.(.*)"), r"attn2.add_k_proj.\1"),
    (re.compile(r"cross_attn\.v_img\.(.*)"), r"attn2.add_v_proj.\1"),
    (re.compile(r"cross_attn\.norm_k_img\.(.*)"), r"attn2.norm_added_k.\1"),
    (re.compile(r"(self_attn|cross_attn)\.(norm_[qk])\.(.*)"), "NORM"),
    (re.compile(r"ffn\.0\.(.*)"), r"ffn.net.0.proj.\1"),
    (re.compile(r"ffn\.2\.(.*)"), r"ffn.net.2.\1"),
    (re.compile(r"norm3\.(.*)"), r"norm2.\1"),
    (re.compile(r"modulation"), "scale_shift_table"),
    (re.compile(r"(dw_conv|lq_conv|lq_inject_conv)\.(.*)"), r"\1.\2"),
]
_TOP_RULES: dict[str, str] = {
    "patch_embedding.": "transformer.patch_embedding.",
    "text_embedding.0.": "transformer.condition_embedder.text_embedder.linear_1.",
    "text_embedding.2.": "transformer.condition_embedder.text_embedder.linear_2.",
    "time_embedding.0.": "transformer.condition_embedder.time_embedder.linear_1.",
    "time_embedding.2.": "transformer.condition_embedder.time_embedder.linear_2.",
    "time_projection.1.": "transformer.condition_embedder.time_proj.",
    "head.head.": "transformer.proj_out.",
    "img_emb.proj.0.": "transformer.condition_embedder.image_embedder.norm1.",
    "img_emb.proj.1.": "transformer.condition_embedder.image_embedder.ff.net.0.proj.",
    "img_emb.proj.3.": "transformer.condition_embedder.image_embedder.ff.net.2.",
    "img_emb.proj.4.": "transformer.condition_embedder.image_embedder.norm2.",
}
_BLOCK_KEY = re.compile(r"blocks\.(\d+)\.(.*)")
#: In a LoRA-wrapped module the original weight lives under `base_layer`.
_LORA_LEAF = re.compile(r"(lora_[AB]\.default\.weight|base_layer\.(weight|bias))$")


def native_to_ours(key: str) -> str:
    """Rename one DiffSynth/native Wan (+ STCDiT) key, without `pipe.dit.`, to ours."""
    if key == "head.modulation":
        return "transformer.scale_shift_table"
    for old, new in _TOP_RULES.items():
        if key.startswith(old):
            return new + key[len(old) :]
    m = _BLOCK_KEY.fullmatch(key)
    if m is None:
        return key  # top-level STCDiT extras keep their names
    index, rest = m.groups()
    for pattern, repl in _BLOCK_RULES:
        hit = pattern.fullmatch(rest)
        if hit is None:
            continue
        if repl == "ATTN":
            new = f"{_ATTN[hit[1]]}.{_PROJ[hit[2]]}.{hit[3]}"
        elif repl == "NORM":
            new = f"{_ATTN[hit[1]]}.{hit[2]}.{hit[3]}"
        else:
            new = hit.expand(repl)
        return f"transformer.blocks.{index}.{new}"
    raise WeightsError(f"unknown key in an STCDiT/Wan state dict: {key!r}")


def wrap_lora_base(key: str, lora_modules: set[str]) -> str:
    """`….to_q.weight` → `….to_q.base_layer.weight` for modules that carry a LoRA."""
    if _LORA_LEAF.search(key):
        return key
    module, _, leaf = key.rpartition(".")
    return f"{module}.base_layer.{leaf}" if module in lora_modules else key


def lora_modules(state_keys: list[str] | set[str]) -> set[str]:
    """Module paths that hold a LoRA adapter in a state dict of ours."""
    return {k.split(".lora_A.")[0] for k in state_keys if ".lora_A." in k}


def trained_keys(model_keys: list[str] | set[str]) -> set[str]:
    """The subset of our model's keys that an official checkpoint provides."""
    marks = ("lora_", "lq_", "key_frame", "dw_conv")
    return {k for k in model_keys if any(m in k for m in marks)}


def detect(
    state: dict[str, torch.Tensor], path: Path | None = None, known: bool = True
) -> tuple[str | None, int]:
    """(variant, LoRA rank) of a renamed official checkpoint. With `known=False` an unknown
    model width gives variant None instead of an error (for explicitly chosen presets)."""
    sig = state.get(SIGNATURE)
    lora = next((v for k, v in state.items() if k.endswith("lora_A.default.weight")), None)
    if sig is None or lora is None:
        raise WeightsError(
            f"is not an STCDiT checkpoint (no {SIGNATURE} or LoRA tensors)", path=path
        )
    variant = VARIANT_BY_DIM.get(int(sig.shape[0]))
    if variant is None and known:
        raise WeightsError(f"has an unknown model width {sig.shape[0]}", path=path)
    return variant, int(lora.shape[0])


def official_to_ours(
    state: dict[str, torch.Tensor], path: Path | None = None
) -> dict[str, torch.Tensor]:
    """Strip `pipe.dit.` and rename every key; a key without the prefix is an error."""
    stray = [k for k in state if not k.startswith(PREFIX)]
    if stray:
        raise WeightsError(f"has {len(stray)} keys without {PREFIX!r} (e.g. {stray[0]})", path=path)
    return {native_to_ours(k[len(PREFIX) :]): v for k, v in state.items()}


def expected_trained(preset: str, rank: int) -> dict[str, torch.Tensor]:
    """Meta tensors of the keys an official checkpoint of `preset` must provide."""
    from dataclasses import replace

    from vsrup.methods.stcdit.config import PRESETS
    from vsrup.methods.stcdit.model import build

    config = replace(PRESETS[preset], lora_rank=rank, lora_alpha=float(rank))
    full = build(config, device="meta").state_dict()
    return {k: full[k] for k in trained_keys(full.keys())}


def convert_official(src: Path, dst_dir: Path, preset: str | None = None) -> Path:
    """`vsrup models import stcdit-tiny|stcdit-large FILE`: write our layout into dst_dir.

    `preset` overrides the variant detected from tensor widths (tests use "test").
    """
    src, dst_dir = Path(src), Path(dst_dir)
    raw, _ = read_state_dict(src)
    state = official_to_ours(raw, src)
    variant, rank = detect(state, src, known=preset is None)
    preset = preset or variant
    assert preset is not None
    check_keys(state, expected_trained(preset, rank), path=src)
    config = {"preset": preset, "lora_rank": rank, "lora_alpha": float(rank)}
    tensors = {k: v.float() for k, v in state.items()}
    return store_staged(tensors, config, dst_dir, metadata={"format": "vsrup-stcdit"})
