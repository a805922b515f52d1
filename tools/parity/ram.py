"""Parity fixtures for the RAM + DAPE tagger DLoRAL prompts with: the OFFICIAL code, tiny, CPU.

    python -m venv /tmp/rv && /tmp/rv/bin/pip install torch==2.13.0 transformers==4.46.3 \
        loralib scipy safetensors
    PYTHONPATH=src /tmp/rv/bin/python tools/parity/ram.py PATH/TO/DLoRAL [--out tests/fixtures/ram]

A side environment because the official 4.28-era BERT file does not build under transformers 5
(its PreTrainedModel tying API changed); transformers 4.46 runs it as written.

PATH is a checkout of github.com/yjsunnn/DLoRAL (tested at 40c13086) or a bare git directory of
it (then HEAD's `ram/` is exported to a temporary folder). The official `ram.models.ram_lora`
(RAMLora, its loralib Swin and BERT) is imported and run unmodified. Around it, and why:

- Needs loralib (the official LoRA layers). timm, fairscale and the BERT
  tokenizer download are not available here: stand-ins provide the names the modules import
  (timm's DropPath is an identity at eval; trunc_normal_ only initialises). The `ram` package's
  `__init__` (which imports every RAM variant) is bypassed; `ram.models.ram_lora` is imported
  as a submodule. `init_tokenizer` returns a stand-in with BERT's vocabulary size (the
  tokenizer only sizes embeddings that tagging never uses).
- Tiny config files replace the official ones (CONFIG_PATH points to a temporary folder):
  Swin with embed_dim 8 at 384 px, a 32-wide head, 40 made-up tags.
- Helpers the BERT file imports from `transformers.modeling_utils` are aliased where a newer
  transformers dropped them (pruning is never called; feed-forward chunking is off).

Then, as DLoRAL's `test_DLoRAL.py` does, `ram(pretrained=RAM_FILE, pretrained_condition=
DAPE_FILE, image_size=384, vit='swin_l')`, `.eval()`, and `generate_tag`. The RAM file is a
{"model": state dict} with the head under `vision_multi.*` (renamed by the official loader);
the DAPE file is a plain state dict with random LoRA factors, a perturbed `image_proj`, and one
head weight given only under its tied `tag_encoder` name. Thresholds are set so that about half
the tags pass with a clear margin.

Writes (small; weights rounded to fp16 values): ram.safetensors and dape.safetensors (official
key names), tags.txt, thresholds.txt, image.safetensors ((3, 96, 128) uint8 frame), and
outputs.safetensors (logits) + outputs.json (the official tag string).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import types
from pathlib import Path

import torch
from safetensors.torch import save_file

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))

from vsrup.nn.ram import normalize  # noqa: E402

N_TAGS = 40
SEED = 7
SWIN = {"vision_width": 64, "image_res": 384, "window_size": 12, "embed_dim": 8,
        "depths": [2, 2, 2, 2], "num_heads": [1, 2, 2, 4]}  # fmt: skip
BERT = {"architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1, "hidden_size": 32, "initializer_range": 0.02,
        "intermediate_size": 64, "layer_norm_eps": 1e-12, "max_position_embeddings": 512,
        "model_type": "bert", "num_attention_heads": 4, "num_hidden_layers": 2, "pad_token_id": 0,
        "type_vocab_size": 2, "vocab_size": 30524, "encoder_width": 32,
        "add_cross_attention": True}  # fmt: skip


def _stubs() -> None:
    # transformers probes for timm on import: import it before the stand-in timm exists.
    import transformers.modeling_utils as mu

    def module(name: str, **attrs: object) -> types.ModuleType:
        m = types.ModuleType(name)
        m.__dict__.update(attrs)
        sys.modules[name] = m
        return m

    class DropPath(torch.nn.Identity):
        def __init__(self, *_: object, **__: object) -> None:
            super().__init__()

    def to_2tuple(x: object) -> tuple:
        return x if isinstance(x, tuple) else (x, x)

    module("timm")
    module("timm.models")
    module("timm.models.layers", DropPath=DropPath, to_2tuple=to_2tuple,
           trunc_normal_=lambda t, std=1.0: torch.nn.init.trunc_normal_(t, std=std))  # fmt: skip
    module("timm.models.hub", download_cached_file=None)
    module("timm.models.vision_transformer", _cfg=None, PatchEmbed=None)
    module("timm.models.registry", register_model=lambda f: f)
    module("timm.models.helpers", named_apply=None, adapt_input_conv=None)
    module("fairscale")
    module("fairscale.nn")
    module("fairscale.nn.checkpoint")
    module("fairscale.nn.checkpoint.checkpoint_activations", checkpoint_wrapper=None)

    def apply_chunking_to_forward(fn, chunk_size, dim, *inputs):  # noqa: ANN001, ANN202
        assert chunk_size == 0  # BERT's default: no chunking
        return fn(*inputs)

    stand_ins = {"apply_chunking_to_forward": apply_chunking_to_forward,
                 "find_pruneable_heads_and_indices": None, "prune_linear_layer": None}  # fmt: skip
    for name, value in stand_ins.items():  # gone from transformers 5; pruning is never used
        if not hasattr(mu, name):
            setattr(mu, name, value)


def _official_root(path: Path) -> Path:
    if (path / "ram" / "models" / "ram_lora.py").is_file():
        return path
    out = Path(tempfile.mkdtemp(prefix="dloral-ram-"))
    archive = subprocess.run(
        ["git", "--git-dir", str(path), "archive", "HEAD", "ram"], check=True, capture_output=True
    )
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive.stdout, check=True)
    return out


def _import_ram_lora(root: Path) -> types.ModuleType:
    for name, sub in (("ram", "ram"), ("ram.models", "ram/models")):
        pkg = types.ModuleType(name)
        pkg.__path__ = [str(root / sub)]  # a package without running its __init__
        sys.modules[name] = pkg
    import importlib

    return importlib.import_module("ram.models.ram_lora")


class _Tokenizer:
    """Only `len()` and `(text).input_ids` are used while building RAMLora."""

    def __len__(self) -> int:
        return BERT["vocab_size"]

    def __call__(self, text: str) -> types.SimpleNamespace:
        return types.SimpleNamespace(input_ids=[0] * (len(text.split()) + 2))


def _round(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().half().float() if v.is_floating_point() else v.clone()
            for k, v in sd.items()}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("official", type=Path)
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "ram")
    args = ap.parse_args()
    _stubs()
    root = _official_root(args.official.resolve())
    rl = _import_ram_lora(root)
    utils = sys.modules["ram.models.utils"]

    work = Path(tempfile.mkdtemp(prefix="ram-parity-"))
    (work / "configs" / "swin").mkdir(parents=True)
    (work / "data").mkdir()
    (work / "configs" / "swin" / "config_swinL_384.json").write_text(json.dumps(SWIN))
    (work / "configs" / "q2l_config.json").write_text(json.dumps({**BERT, "vocab_size": 30522}))
    (work / "configs" / "med_config.json").write_text(json.dumps(BERT))
    tags = [f"tag{i:02d}" for i in range(N_TAGS)]
    for name in ("ram_tag_list.txt", "ram_tag_list_chinese.txt"):
        (work / "data" / name).write_text("\n".join(tags))
    thresholds = work / "data" / "ram_tag_list_threshold.txt"
    thresholds.write_text("\n".join(["0.5"] * N_TAGS))
    rl.CONFIG_PATH = utils.CONFIG_PATH = str(work)
    rl.init_tokenizer = _Tokenizer
    kwargs = {
        "image_size": 384,
        "vit": "swin_l",
        "med_config": str(work / "configs" / "med_config.json"),
        "tag_list": str(work / "data" / "ram_tag_list.txt"),
        "tag_list_chinese": str(work / "data" / "ram_tag_list_chinese.txt"),
    }

    torch.manual_seed(SEED)
    model = rl.RAMLora(**kwargs)
    with torch.no_grad():
        model.label_embed.normal_(0, 1)
        for p in model.parameters():  # LayerNorms start at 1/0: make them matter
            if p.dim() == 1:
                p.add_(torch.randn_like(p) * 0.1)
    full = _round(model.state_dict())
    # The RAM file: no LoRA factors (RAM itself has none), head under `vision_multi`.
    ram = {k.replace("tagging_head", "vision_multi"): v for k, v in full.items()
           if ".lora_" not in k}  # fmt: skip
    # The DAPE file: random LoRA factors (loralib starts B at zero), a changed image_proj, and
    # a head weight only under its tied encoder name (the official tie makes it the head's).
    dape = {k: torch.randn_like(v).half().float() * 0.5 for k, v in full.items() if ".lora_" in k}
    dape["image_proj.weight"] = (full["image_proj.weight"] * 1.5).half().float()
    tied = "encoder.layer.1.intermediate.dense.weight"
    dape[f"tag_encoder.{tied}"] = (full[f"tagging_head.{tied}"] * -1.0).half().float()

    ram_file, dape_file = work / "ram.pth", work / "dape.pth"
    torch.save({"model": ram}, ram_file)
    torch.save(dape, dape_file)

    frame = (torch.rand(3, 96, 128) * 255).round().to(torch.uint8)
    pixels = normalize(frame[None].float() / 255, 384)

    def official() -> torch.nn.Module:
        m = rl.ram(pretrained=str(ram_file), pretrained_condition=str(dape_file), **kwargs)
        return m.eval()

    with torch.no_grad():
        _, logits, _ = official().condition_forward(pixels, only_feature=False)
    probs = torch.sigmoid(logits[0])
    # Half the tags pass, every threshold at least 0.02 from its probability.
    values = [(p - 0.02 if i % 2 == 0 else p + 0.02).clamp(0.01, 0.99).item()
              for i, p in enumerate(probs)]  # fmt: skip
    thresholds.write_text("\n".join(f"{v:.6f}" for v in values))
    with torch.no_grad():
        tag_string = official().generate_tag(pixels)[0][0]
    print("official tags:", tag_string)

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    # Kept small: no captioning decoder or embeddings, no Swin buffers (the official loader
    # drops those from the RAM file; the tests add some back to check that we do too).
    skip = ("text_decoder.", "tag_encoder.embeddings.")
    half = {
        k: v.half() if v.is_floating_point() else v
        for k, v in ram.items()
        if not k.startswith(skip) and not k.endswith(("attn_mask", "relative_position_index"))
    }
    save_file(half, str(out / "ram.safetensors"))
    save_file({k: v.half() for k, v in dape.items()}, str(out / "dape.safetensors"))
    (out / "tags.txt").write_text("\n".join(tags))
    (out / "thresholds.txt").write_text(thresholds.read_text())
    save_file({"frame": frame.contiguous()}, str(out / "image.safetensors"))
    save_file({"logits": logits.float().contiguous()}, str(out / "outputs.safetensors"))
    (out / "outputs.json").write_text(json.dumps({"tags": tag_string}, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
