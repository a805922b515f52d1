"""Parity fixtures for STCDiT: run the official DiT at a tiny config and save what it does.

Usage: python tools/parity/stcdit.py REPO [--out tests/fixtures/stcdit]

REPO is a checkout of github.com/JyChen9811/STCDiT, or its bare git directory (the file is then
read with `git show HEAD:…`). The official module needs `einops` (pip install einops); it falls
back to PyTorch SDPA when flash-attn/sage are absent, so it runs on CPU unchanged.

For each variant ("tiny": WanModel_t2v_tiny; "large": WanModel_i2v_large with the I2V image
branch and 36 input channels) the script builds the official DiT at a tiny size, calls
`enable_lq_condition()`, injects LoRA exactly as the official inference script does, fills
every parameter with seeded random values (the official zero-inits would hide bugs), runs one
fp32 forward with anchors, and writes three small safetensors files per variant:
`<variant>_weights.safetensors` (the whole DiT state dict, keys prefixed `pipe.dit.` like the
released checkpoints), `<variant>_inputs.safetensors` and `<variant>_output.safetensors`.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import types
from pathlib import Path

import torch

DIT_FILES = {
    "tiny": ("diffsynth/models/wan_video_dit_t2v_tiny.py", "WanModel_t2v_tiny"),
    "large": ("diffsynth/models/wan_video_dit_i2v_large.py", "WanModel_i2v_large"),
}
#: Tiny sizes: 2 heads × 12 channels, 2 blocks; text_dim 16; LoRA rank 4.
DIMS = {"dim": 24, "ffn_dim": 32, "num_heads": 2, "num_layers": 2, "text_dim": 16, "freq_dim": 16}
RANK = 4
#: Latent grid (frames, height, width) and the anchor frames (latent indices) of the run.
GRID = (5, 4, 6)
ANCHORS = [0, 2, 4]


def read_source(repo: Path, rel: str) -> str:
    path = repo / rel
    if path.is_file():
        return path.read_text()
    return subprocess.run(
        ["git", f"--git-dir={repo}", "show", f"HEAD:{rel}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def load_official(repo: Path, variant: str) -> type:
    """Import one official DiT file as a module, with a stub for its `.utils` import."""
    rel, cls_name = DIT_FILES[variant]
    package = types.ModuleType("_stcdit_official")
    package.__path__ = []
    utils = types.ModuleType("_stcdit_official.utils")
    utils.hash_state_dict_keys = lambda *a, **k: ""  # only used for config detection
    sys.modules["_stcdit_official"] = package
    sys.modules["_stcdit_official.utils"] = utils
    name = f"_stcdit_official.{variant}"
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "_stcdit_official"
    exec(compile(read_source(repo, rel), rel, "exec"), module.__dict__)  # noqa: S102
    sys.modules[name] = module
    return getattr(module, cls_name)


def randomise(model: torch.nn.Module, seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("weights_FTC"):
                p.copy_(torch.rand(p.shape, generator=gen) + 0.2)
            elif "norm" in name and p.dim() == 1:
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                fan_in = max(p[0].numel(), 1) if p.dim() > 1 else p.shape[0]
                p.copy_(torch.randn(p.shape, generator=gen) / fan_in**0.5)


def with_lora(dit: torch.nn.Module, seed: int) -> torch.nn.Module:
    """Enable the LQ condition and inject LoRA as the official inference script does, then
    fill every parameter with seeded random values."""
    from peft import LoraConfig, inject_adapter_in_model

    dit.enable_lq_condition()
    lora = LoraConfig(
        r=RANK,
        lora_alpha=RANK,
        init_lora_weights=False,
        target_modules=["q", "k", "v", "o", "ffn.0", "ffn.2"],
    )
    dit = inject_adapter_in_model(lora, dit)
    randomise(dit, seed=seed)
    return dit.eval()


def run(repo: Path, out: Path, variant: str) -> None:
    from safetensors.torch import save_file

    cls = load_official(repo, variant)
    large = variant == "large"
    torch.manual_seed(0)
    dit = cls(
        in_dim=36 if large else 16,
        out_dim=16,
        eps=1e-6,
        patch_size=(1, 2, 2),
        has_image_input=large,
        **DIMS,
    )
    if large:
        del dit.img_emb  # 1280-wide CLIP MLP: unused by STCDiT's forward, too big for a fixture
    dit = with_lora(dit, seed=1 if large else 0)

    gen = torch.Generator().manual_seed(2)
    f, h, w = GRID
    x = torch.randn(1, 16, f, 2 * h, 2 * w, generator=gen)
    lq = torch.randn(1, 16, f, 2 * h, 2 * w, generator=gen)
    text_len = 260 if large else 8  # > 257 so the large model's context split is exercised
    context = torch.randn(1, text_len, DIMS["text_dim"], generator=gen)
    timestep = torch.tensor([637.5])
    with torch.no_grad():
        y = dit(x, lq, [list(ANCHORS)], timestep, context)

    out.mkdir(parents=True, exist_ok=True)
    state = {f"pipe.dit.{k}": v.contiguous() for k, v in dit.state_dict().items()}
    save_file(state, out / f"{variant}_weights.safetensors")
    inputs = {
        "latents": x,
        "lq": lq,
        "context": context,
        "timestep": timestep,
        "anchors": torch.tensor(ANCHORS),
    }
    save_file(inputs, out / f"{variant}_inputs.safetensors")
    save_file({"velocity": y.contiguous()}, out / f"{variant}_output.safetensors")
    print(f"{variant}: {len(state)} tensors, output {tuple(y.shape)} std {y.std():.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--out", type=Path, default=Path("tests/fixtures/stcdit"))
    parser.add_argument("--variant", choices=["tiny", "large", "both"], default="both")
    args = parser.parse_args()
    torch.set_num_threads(2)
    for variant in ("tiny", "large") if args.variant == "both" else (args.variant,):
        run(args.repo, args.out, variant)


if __name__ == "__main__":
    main()
