"""Parity fixtures for `dloral`: run the OFFICIAL DLoRAL code at a tiny config on CPU.

    PYTHONPATH=src python tools/parity/dloral.py PATH/TO/DLoRAL [--out tests/fixtures/dloral]

PATH is a checkout of github.com/yjsunnn/DLoRAL (tested at 40c13086) or a bare git directory
of it (then HEAD is exported to a temporary folder). The official code is imported, never
copied. What this script supplies around it, and why:

- mmcv / mmengine / torchvision / einops are not installed here: small stand-ins provide the
  few names the official modules import (mmcv's ConvModule becomes conv + optional ReLU with
  the same `.conv` parameter names; the deformable-conv class is defined but never built).
- CUDA-only calls (`.cuda()`) become no-ops; the model runs fp32 on CPU.
- `UNet2DConditionModel.from_pretrained` inside the official `initialize_unet` returns a tiny
  random UNet (our `UNET_TINY` config), so the official conv_in widening, target grep and
  six `add_adapter` calls run as written. `Generator.save_model` writes the official model.pkl
  and `Generator_eval.load_ckpt_from_state_dict` reads it back, both unmodified.
- `initialize_unet` hard-codes `Conv2d(8, 320)`; its module's `nn.Conv2d` is wrapped so the
  widened conv_in gets the tiny UNet's width instead.
- The VAE posterior is taken at its mean (the official code samples it) so outputs are
  deterministic; our pipeline does the same.
- The prompt encoder is replaced by fixed random embeddings (no CLIP weights here).

Geometry: two 512×512 frames → 64×64 latents: the smallest pair the official CFR accepts and
what a small video becomes after the short-side-128 step, so the official untiled branch runs
(all six adapters active, as `test_DLoRAL.py` sets them). CPU attention over 64×64 latents is
already ~20 GFLOP; larger (tiled) geometries would make the test too slow for the suite.

Writes (all < 2 MB, weights rounded to fp16 values and stored as fp16, so fp32 math on both
sides starts from identical numbers): weights_unet / weights_cfr_{a,b} / weights_vae
(official key names; target lists and ranks in the metadata), inputs_{0,1} (uint8 frames),
embeds, and outputs (CFR outputs on the whole pair, the tiled x0 latent, a crop of the image).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path
from types import SimpleNamespace

import torch
from torch import nn

HEIGHT, WIDTH = 512, 512
LATENT_TILE, LATENT_OVERLAP = 96, 32
CFR_MID = 8
SEED = 1234
ADAPTER_NAMES = [
    f"default_{g}_{k}" for k in ("quality", "consistency") for g in ("encoder", "decoder", "others")
]
CROP = (slice(None), slice(None), slice(128, 384), slice(128, 384))


def fake_module(name: str, **attrs: object) -> types.ModuleType:
    """Register an (importable, package-like) stand-in module holding `attrs`."""
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    mod.__path__ = []  # type: ignore[attr-defined]
    sys.modules[name] = mod
    return mod


def _install_shims(stub_torchvision: bool = True) -> None:
    """Stand-ins for mmcv/mmengine/einops (and torchvision unless `stub_torchvision` is
    False: the end-to-end script needs the real transforms), CUDA calls as no-ops."""

    class ConvModule(nn.Module):
        def __init__(
            self,
            in_channels,
            out_channels,
            kernel_size,
            stride=1,
            padding=0,
            norm_cfg=None,
            act_cfg=None,
            **_,
        ):  # noqa: ANN001
            super().__init__()
            self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding)
            self.act = nn.ReLU() if act_cfg else nn.Identity()

        def forward(self, x):  # noqa: ANN001, ANN202
            return self.act(self.conv(x))

    module = fake_module
    module("mmcv")
    module("mmcv.ops", ModulatedDeformConv2d=nn.Module, modulated_deform_conv2d=None)
    module("mmcv.cnn", ConvModule=ConvModule)
    module("mmengine", MMLogger=SimpleNamespace(get_current_instance=lambda: None), print_log=print)
    module("mmengine.model", BaseModule=nn.Module)
    module("mmengine.model.weight_init", constant_init=lambda *a, **k: None)
    module("mmengine.runner", load_checkpoint=lambda *a, **k: None)
    if stub_torchvision:
        module("torchvision")
        module("torchvision.transforms")
    module("einops", rearrange=None)
    torch.Tensor.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]
    nn.Module.cuda = lambda self, *a, **k: self  # type: ignore[method-assign]


def _official_root(path: Path) -> Path:
    if (path / "src" / "DLoRAL_model.py").is_file():
        return path
    out = Path(tempfile.mkdtemp(prefix="dloral_official_"))
    archive = subprocess.run(
        ["git", "--git-dir", str(path), "archive", "HEAD", "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    return out


def _round_fp16_(module: nn.Module, gen: torch.Generator) -> None:
    with torch.no_grad():
        for name, p in module.named_parameters():
            if ".lora_B." in name:  # peft starts these at zero
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
            elif name.endswith("bias") and not p.abs().sum():
                p.copy_(torch.randn(p.shape, generator=gen) * 0.01)
            p.copy_(p.half().float())


def _half(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().half().contiguous() for k, v in sd.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("official", type=Path)
    ap.add_argument("--out", type=Path, default=Path("tests/fixtures/dloral"))
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)

    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution
    from safetensors.torch import save_file

    from vsrup.methods.dloral.config import UNET_TINY, VAE_TINY

    root = _official_root(args.official.resolve())
    _install_shims()
    sys.path.insert(0, str(root))
    os.chdir(root)
    import src.DLoRAL_model as official  # noqa: PLC0415 (imported after the shims)
    from src.cross_frame_retrieval.cfr_main import CFR_model

    DiagonalGaussianDistribution.sample = lambda self, generator=None: self.mode().contiguous()
    torch.manual_seed(SEED)
    gen = torch.Generator().manual_seed(SEED)

    def tiny_unet() -> UNet2DConditionModel:
        torch.manual_seed(SEED)
        return UNet2DConditionModel(**UNET_TINY)

    official.UNet2DConditionModel = SimpleNamespace(from_pretrained=lambda *a, **k: tiny_unet())
    # initialize_unet hard-codes Conv2d(8, 320) (SD's width): give it the tiny UNet's width.
    width = UNET_TINY["block_out_channels"][0]
    shim_nn = {k: getattr(nn, k) for k in dir(nn) if not k.startswith("_")}
    shim_nn["Conv2d"] = lambda cin, cout, **kw: nn.Conv2d(cin, width if cout == 320 else cout, **kw)
    official.nn = SimpleNamespace(**shim_nn)

    # 1. A "trained" official model at the tiny config, saved by the official writer.
    unet, *lists = official.initialize_unet(
        4, 4, return_lora_module_names=True, pretrained_model_name_or_path="tiny"
    )
    _round_fp16_(unet, gen)
    cfr = CFR_model(
        mid_channels=CFR_MID, num_blocks=7, is_low_res_input=False, spynet_pretrained=None
    )
    _round_fp16_(cfr, gen)
    names = [
        "modules_encoder_quality",
        "modules_decoder_quality",
        "others_quality",
        "modules_encoder_consistency",
        "modules_decoder_consistency",
        "others_consistency",
    ]
    trainer = SimpleNamespace(
        unet=unet,
        cfr_main_net=cfr,
        lora_rank_unet_quality=4,
        lora_rank_unet_consistency=4,
        **{f"lora_unet_{n}": v for n, v in zip(names, lists)},
    )
    pkl = Path(tempfile.mkdtemp()) / "model.pkl"
    official.Generator.save_model(trainer, pkl)
    sd = torch.load(pkl, map_location="cpu", weights_only=True)

    # 2. The official evaluator, loading that file with its own loader.
    ev = official.Generator_eval.__new__(official.Generator_eval)
    nn.Module.__init__(ev)
    ev.args = SimpleNamespace(
        load_cfr=True, latent_tiled_size=LATENT_TILE, latent_tiled_overlap=LATENT_OVERLAP
    )
    ev.device = "cpu"
    base = tiny_unet()
    conv_in = nn.Conv2d(8, base.conv_in.out_channels, kernel_size=3, padding=1)
    base.conv_in = conv_in
    ev.unet = base
    ev.cfr_main_net = CFR_model(
        mid_channels=CFR_MID, num_blocks=7, is_low_res_input=False, spynet_pretrained=None
    )
    ev.load_ckpt_from_state_dict(sd)
    torch.manual_seed(SEED + 1)
    vae = AutoencoderKL(**VAE_TINY)
    _round_fp16_(vae, gen)
    ev.vae = vae
    ev.timesteps = torch.tensor([1]).long()
    embeds = (torch.randn(1, 8, UNET_TINY["cross_attention_dim"], generator=gen)).half().float()
    ev.encode_prompt = lambda batch: embeds
    ev.eval()

    # A smooth random scene; frame 1 is frame 0 moved by (3, 5) pixels, so there is real flow.
    scene = torch.rand(1, 3, HEIGHT // 16, WIDTH // 16, generator=gen)
    scene = torch.nn.functional.interpolate(scene, size=(HEIGHT, WIDTH), mode="bilinear")
    frame0 = (scene[0] * 255).round().to(torch.uint8)
    frames = torch.stack([frame0, frame0.roll(shifts=(3, 5), dims=(1, 2))])
    c_t = (frames.float() / 255).unsqueeze(0) * 2 - 1
    unc = torch.zeros(1, 1, 1, HEIGHT // 8, WIDTH // 8)
    ev.unet.set_adapter(list(ADAPTER_NAMES))  # as test_DLoRAL.py does before the loop
    captured = {}
    cfr_forward = ev.cfr_main_net.forward

    def spy(*a, **k):  # noqa: ANN002, ANN003, ANN202
        captured["cfr"] = cfr_forward(*a, **k)
        return captured["cfr"]

    ev.cfr_main_net.forward = spy
    with torch.no_grad():
        latents = vae.encode(c_t[0]).latent_dist.mode() * vae.config.scaling_factor
        image, x0, *_ = ev(
            stages=1, c_t=c_t, uncertainty_map=unc, prompt="", weight_dtype=torch.float32
        )
    fused, _, aligned = captured["cfr"]

    meta = {
        "ranks": json.dumps({"quality": 4, "consistency": 4}),
        "lists": json.dumps({k: v for k, v in sd.items() if isinstance(v, list)}),
    }
    save_file(_half(sd["state_dict_unet"]), out / "weights_unet.safetensors", metadata=meta)
    bpp = sd["state_dict_bpp"]
    late = {k for k in bpp if k.startswith(tuple(f"spynet.basic_module.{i}." for i in (3, 4, 5)))}
    save_file(
        _half({k: v for k, v in bpp.items() if k not in late}), out / "weights_cfr_a.safetensors"
    )
    save_file(_half({k: bpp[k] for k in late}), out / "weights_cfr_b.safetensors")
    save_file(_half(vae.state_dict()), out / "weights_vae.safetensors")
    for i in range(2):
        save_file({"frame": frames[i].contiguous()}, out / f"inputs_{i}.safetensors")
    save_file({"embeds": embeds.contiguous()}, out / "embeds.safetensors")
    save_file(
        {
            "latents": latents.contiguous(),
            "cfr_aligned_prev": aligned[0, 1].contiguous(),
            "cfr_fused_cur": fused[0, 1].contiguous(),
            "x0": x0.contiguous(),
            "image_crop": image[CROP].contiguous(),
        },
        out / "outputs.safetensors",
        metadata={
            "crop": json.dumps([128, 384, 128, 384]),
            "tile": str(LATENT_TILE),
            "overlap": str(LATENT_OVERLAP),
        },
    )
    for f in sorted(out.glob("*.safetensors")):
        print(f"{f.name}: {f.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
