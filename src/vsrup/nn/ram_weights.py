"""Official RAM / DAPE checkpoints → `vsrup.nn.ram.RAMTagger`.

The files, as DLoRAL's inference reads them:
- `ram_swin_large_14m.pth`: {"model": state dict of the whole RAM model}. Its loader renames
  `vision_multi` → `tagging_head` and drops the Swin buffers (`relative_position_index`,
  `attn_mask`), which we rebuild.
- `DAPE.pth`: a plain state dict of the same model (SeeSR's degradation-aware fine-tune),
  loaded second, non-strictly, over the first.
- Its model (`RAMLora`) carries loralib adapters: on the Swin `attn.qkv` (a MergedLinear, r=8,
  on the q and v thirds) and on the head's `crossattention.self.query` / `.key` (r=8), all with
  loralib's default alpha 1, i.e. a scaling of 1/r. `eval()` merges them into the weights, so
  we merge once at load: W += scaling · B·A (per third for qkv).
- The head's layers are tied to the two lowest layers of the captioning `tag_encoder`
  (weights and biases of every Linear/LayerNorm, not the LoRA factors). So a value stored
  under `tag_encoder.encoder.layer.{i}.…` also sets the head, and the `tagging_head.…` name,
  loaded after it, wins when both are present. The encoder's own LoRA pairs on those tied
  query/key weights are merged into the shared weight too, before the head's (the order in
  which `eval()` reaches the modules), so both deltas end up in the head.

Anything else in the files (the captioning `tag_encoder`/`text_decoder`) is not needed for tags
and is skipped. The tag names and per-tag thresholds are two text files of RAM's repository
(`ram_tag_list.txt`, `ram_tag_list_threshold.txt`); the thresholds are used as written (the
official loader's adjustment, `min(value + 0, 0.9)` for values up to 0.9, changes none).
"""

from __future__ import annotations

import math
import re
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from vsrup.errors import WeightsError
from vsrup.hub.safe_load import check_keys, load_state_dict, save_state_dict
from vsrup.nn.ram import RAMConfig, RAMTagger
from vsrup.nn.swin import SwinConfig

RAM_FILE = "ram_swin_large_14m.pth"
DAPE_FILE = "dape.safetensors"
TAG_LIST_FILE = "ram_tag_list.txt"
THRESHOLD_FILE = "ram_tag_list_threshold.txt"
#: loralib's default alpha; the official modules pass none, so scaling = 1 / r.
LORA_ALPHA = 1.0
HEAD_HEADS = 4  # q2l_config.json: not recoverable from tensor shapes

_USED = ("visual_encoder.", "image_proj.", "label_embed", "wordvec_proj.", "tagging_head.", "fc.")
_SKIPPED_BUFFERS = ("relative_position_index", "attn_mask")
_TIED = re.compile(
    r"^tag_encoder\.encoder\.layer\.(\d+)\.((?:crossattention|intermediate|output)\..*\.(?:weight|bias))$"
)  # noqa: E501
_TIED_LORA = re.compile(
    r"^tag_encoder\.encoder\.layer\.(\d+)\.(crossattention\.self\.(?:query|key)\.lora_[AB])$"
)  # noqa: E501
_HEAD_LAYER = re.compile(r"^tagging_head\.encoder\.layer\.(\d+)\.")
_SELF_ATTENTION = re.compile(r"^tagging_head\.encoder\.layer\.\d+\.attention\.")


# ---------------------------------------------------------------- reading the official files


@dataclass
class OfficialState:
    """The tensors of one official file that tagging uses, under the official model's names.

    `tied` holds values found under the captioning encoder's names (`tag_encoder.encoder.
    layer.{i}.…`), already renamed to the head's; the official model loads them before the
    head's own names (`own`), which therefore win."""

    tied: dict[str, torch.Tensor] = field(default_factory=dict)
    own: dict[str, torch.Tensor] = field(default_factory=dict)
    #: The encoder's LoRA factors on weights shared with the head (head names).
    tied_lora: dict[str, torch.Tensor] = field(default_factory=dict)


def _classify(key: str, ram_file: bool) -> tuple[str, str] | None:
    """("tied" | "tied_lora" | "own", the head's name for it), or None when tagging skips it."""
    if ram_file and "vision_multi" in key:
        key = key.replace("vision_multi", "tagging_head")
    if key.endswith(_SKIPPED_BUFFERS) or _SELF_ATTENTION.match(key):
        return None
    if key.startswith("tagging_head.embeddings."):
        return None  # deleted from the official head (Query2Label has no token embeddings)
    for kind, pattern in (("tied", _TIED), ("tied_lora", _TIED_LORA)):
        m = pattern.match(key)
        if m:
            return kind, f"tagging_head.encoder.layer.{m.group(1)}.{m.group(2)}"
    return ("own", key) if key.startswith(_USED) else None


def relevant(state: Mapping[str, torch.Tensor], *, ram_file: bool) -> OfficialState:
    out = OfficialState()
    for key, value in state.items():
        found = _classify(key, ram_file)
        if found is not None:
            getattr(out, found[0])[found[1]] = value
    return out


def merged_official(
    files: Sequence[OfficialState],
) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(state, tied LoRA factors) in the official load order: file by file, tied names before
    own names, later values replacing earlier ones. Tied values of encoder layers the head
    does not have (the encoder has 12, the head 2) are dropped."""
    layers = {
        int(m.group(1)) for f in files for k in f.own if (m := _HEAD_LAYER.match(k))
    }  # fmt: skip
    out: dict[str, torch.Tensor] = {}
    tied_lora: dict[str, torch.Tensor] = {}

    def in_head(key: str) -> bool:
        m = _HEAD_LAYER.match(key)
        return m is not None and int(m.group(1)) in layers

    for f in files:
        out.update({k: v for k, v in f.tied.items() if in_head(k)})
        out.update(f.own)
        tied_lora.update({k: v for k, v in f.tied_lora.items() if in_head(k)})
    return out, tied_lora


def _count_head_layers(state: Mapping[str, torch.Tensor]) -> int:
    return len({int(m.group(1)) for k in state if (m := _HEAD_LAYER.match(k))})


# ---------------------------------------------------------------- config from shapes


def infer_config(state: Mapping[str, torch.Tensor], tags: Sequence[str] = ()) -> RAMConfig:
    """The architecture a merged official state dict describes (any size, e.g. tiny tests)."""
    try:
        proj = state["visual_encoder.patch_embed.proj.weight"]
        depths = []
        heads = []
        stage = 0
        while f"visual_encoder.layers.{stage}.blocks.0.attn.qkv.weight" in state:
            depth = 0
            while f"visual_encoder.layers.{stage}.blocks.{depth}.attn.qkv.weight" in state:
                depth += 1
            depths.append(depth)
            table = state[
                f"visual_encoder.layers.{stage}.blocks.0.attn.relative_position_bias_table"
            ]
            heads.append(int(table.shape[1]))
            stage += 1
        table0 = state["visual_encoder.layers.0.blocks.0.attn.relative_position_bias_table"]
        window = (math.isqrt(int(table0.shape[0])) + 1) // 2
        fc1 = state["visual_encoder.layers.0.blocks.0.mlp.fc1.weight"]
        label = state["label_embed"]
        query = state["tagging_head.encoder.layer.0.crossattention.self.query.weight"]
        inter = state["tagging_head.encoder.layer.0.intermediate.dense.weight"]
    except KeyError as exc:
        raise WeightsError(f"not a RAM checkpoint: no {exc.args[0]}") from None
    swin = SwinConfig(
        image_size=384,  # RAM's Swin-L runs at 384 px (DLoRAL builds it with image_size=384)
        patch_size=int(proj.shape[-1]),
        embed_dim=int(proj.shape[0]),
        depths=tuple(depths),
        num_heads=tuple(heads),
        window_size=window,
        mlp_ratio=fc1.shape[0] / fc1.shape[1],
    )
    return RAMConfig(
        swin=swin,
        num_classes=int(label.shape[0]),
        embed_width=int(label.shape[1]),
        hidden_size=int(query.shape[0]),
        num_layers=_count_head_layers(state),
        num_heads=HEAD_HEADS,
        intermediate_size=int(inter.shape[0]),
        tags=tuple(tags),
    )


# ---------------------------------------------------------------- LoRA merge


def _lora_pair(
    state: dict[str, torch.Tensor], prefix: str
) -> tuple[torch.Tensor, torch.Tensor] | None:
    a = state.pop(f"{prefix}.lora_A", None)
    b = state.pop(f"{prefix}.lora_B", None)
    if a is None and b is None:
        return None
    if a is None or b is None:
        # loralib starts A random and B at zero: a lone B (or A) cannot be reproduced.
        raise WeightsError(
            f"RAM checkpoint has half a LoRA pair at {prefix} (need lora_A and lora_B)"
        )
    return a.float(), b.float()


def merge_lora(
    state: Mapping[str, torch.Tensor], tied_lora: Mapping[str, torch.Tensor] | None = None
) -> dict[str, torch.Tensor]:
    """Fold every loralib pair into its weight (what the official `eval()` does); the tied
    encoder's pairs (`tied_lora`, head names) go in first."""
    out = dict(state)
    for source in (dict(tied_lora or {}), out):
        prefixes = sorted(
            {k.rsplit(".", 1)[0] for k in source if k.endswith((".lora_A", ".lora_B"))}
        )
        for prefix in prefixes:
            _merge_pair(out, source, prefix)
    return out


def _merge_pair(out: dict[str, torch.Tensor], source: dict[str, torch.Tensor], prefix: str) -> None:
    pair = _lora_pair(source, prefix)
    if pair is None:
        return
    a, b = pair
    w_key = f"{prefix}.weight"
    if w_key not in out:
        raise WeightsError(f"RAM checkpoint has a LoRA pair at {prefix} but no {w_key}")
    w = out[w_key].float()
    qkv = prefix.endswith(".attn.qkv")  # loralib MergedLinear, LoRA on q and v: two groups
    groups = 2 if qkv else 1
    r = a.shape[0] // groups
    rows = w.shape[0] // 3 if qkv else w.shape[0]
    if a.shape != (groups * r, w.shape[1]) or b.shape != (groups * rows, r):
        raise WeightsError(f"RAM LoRA at {prefix}: shapes {tuple(a.shape)}, {tuple(b.shape)} "
                           f"do not fit the weight {tuple(w.shape)}")  # fmt: skip
    scale = LORA_ALPHA / r
    if qkv:
        delta = torch.zeros_like(w)
        delta[:rows] = b[:rows] @ a[:r]
        delta[2 * rows :] = b[rows:] @ a[r:]
    else:
        delta = b @ a
    out[w_key] = w + delta * scale


# ---------------------------------------------------------------- tag files


def read_tag_list(path: Path) -> list[str]:
    try:
        tags = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise WeightsError(
            f"cannot read the tag list ({exc.__class__.__name__})", path=path
        ) from None
    if not tags or any(not t.strip() for t in tags):
        raise WeightsError("not a tag list: expected one tag per line, no empty lines", path=path)
    return tags


def read_thresholds(path: Path) -> list[float]:
    """Per-tag probability thresholds, one per line in tag order."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        values = [float(s.strip()) for s in lines]
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise WeightsError(
            f"not a threshold list ({exc.__class__.__name__}: {exc})", path=path
        ) from None
    if not values or not all(0.0 <= v <= 1.0 for v in values):
        raise WeightsError("not a threshold list: expected one value in [0, 1] per line", path=path)
    return values


# ---------------------------------------------------------------- building


def build_tagger(
    files: Sequence[OfficialState],
    tags: Sequence[str],
    thresholds: Sequence[float],
    *,
    where: str = "RAM checkpoint",
) -> RAMTagger:
    """A tagger from official state dicts already passed through `relevant` (RAM, then DAPE)."""
    state = merge_lora(*merged_official(files))
    cfg = infer_config(state, tags)
    if len(tags) != cfg.num_classes or len(thresholds) != cfg.num_classes:
        raise WeightsError(
            f"{where} has {cfg.num_classes} tags, but the tag list has {len(tags)} and the "
            f"threshold list {len(thresholds)}"
        )
    # Parameters on the meta device (no random init of 200 M weights), then the file's
    # tensors assigned in; the computed buffers are made on the CPU even under meta.
    with torch.device("meta"):
        model = RAMTagger(cfg, thresholds)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    check_keys(state, expected, what=where)
    model.load_state_dict({k: v.float() for k, v in state.items()}, assign=True)
    return model.eval().requires_grad_(False)


def load_tagger(
    ram_path: Path, dape_path: Path | None, tag_list: Path, thresholds: Path
) -> RAMTagger:
    """The tagger DLoRAL's inference builds: RAM's weights, DAPE's over them (if given)."""
    files = [relevant(load_state_dict(ram_path), ram_file=True)]
    if dape_path is not None:
        files.append(relevant(load_state_dict(dape_path), ram_file=False))
    return build_tagger(files, read_tag_list(tag_list), read_thresholds(thresholds),
                        where=str(ram_path))  # fmt: skip


# ---------------------------------------------------------------- `vsrup models import` converters


def import_dape(src: Path, dst_dir: Path) -> Path:
    """DAPE.pth (a weights-only pickle) → dape.safetensors: the tensors tagging uses, under
    their official names (so loading goes through the same mapping as the original file)."""
    state = {k: v for k, v in load_state_dict(src).items() if _classify(k, False) is not None}
    if not any(k.startswith("visual_encoder.") for k in state):
        raise WeightsError("not a DAPE/RAM state dict (no visual_encoder.* tensors)", path=src)
    return save_state_dict(state, Path(dst_dir) / DAPE_FILE, metadata={"source": Path(src).name})


def import_tag_list(src: Path, dst_dir: Path) -> Path:
    read_tag_list(src)
    out = Path(dst_dir) / TAG_LIST_FILE
    shutil.copyfile(src, out)
    return out


def import_thresholds(src: Path, dst_dir: Path) -> Path:
    read_thresholds(src)
    out = Path(dst_dir) / THRESHOLD_FILE
    shutil.copyfile(src, out)
    return out
