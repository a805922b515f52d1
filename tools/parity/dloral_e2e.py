"""End-to-end parity fixtures for `dloral`: the OFFICIAL `src/test_DLoRAL.py`, run as a script.

    PYTHONPATH=src python tools/parity/dloral_e2e.py PATH/TO/DLoRAL TORCHVISION_DIR \\
        [--out tests/fixtures/dloral_e2e]

PATH is a checkout (or bare git directory) of github.com/yjsunnn/DLoRAL (tested at 40c13086).
TORCHVISION_DIR is an unpacked torchvision wheel's `torchvision/` folder
(`pip download --no-deps torchvision`, then unzip): the official script's `ToTensor`,
`ToPILImage`, `Resize` and `Normalize` are torchvision's own, imported with the package's
`__init__` bypassed (its compiled ops do not load beside our torch; these modules do not need
them). The script's `__main__` runs unmodified: frames are read from a "video" with OpenCV,
written as PNGs, reopened with PIL, prepared, tagged, paired, run through `Generator_eval`
(which loads model.pkl with the official loader and tiles its VAE with the official VAEHook)
and saved as PNGs. What this tool supplies around it, and why:

- weights: the tiny UNet and CFR of tests/fixtures/dloral (model.pkl is rebuilt from them in
  the official layout by tests/helpers_dloral.py, as the tests do), and a tiny random VAE
  with 32 groups and two resnets per block, since
  VAEHook hard-codes both; `from_pretrained` of the SD parts returns these;
- `cv2.VideoCapture` replays our uint8 frames (converted to BGR as a decoder returns them);
- the RAM/DAPE tagger returns a fixed caption and the CLIP text encoder fixed embeddings (no
  tagger or CLIP weights here); CUDA calls become no-ops, fp32 on CPU;
- the VAE posterior is read at its mean (the official code draws an unseeded sample; our
  default is the mean, so the two runs are comparable);
- `Generator_eval` hard-codes SD's 320-channel conv_in and a 64-channel CFR: both take the
  tiny widths instead (the same shim as tools/parity/dloral.py).

Cases (tiles far smaller than the defaults so every tiled branch runs at this size):
`four` = 4 frames of 32×36 (longer than the engine's 2-frame window; every frame's short side
is enlarged to 128 and resized back at the end), `odd` = 3 frames of 33×37 (odd sides: a
Lanczos resize to multiples of 8, then the resize back to 132×148). Frame 0 has no official
output (the script drops it), so fixtures hold frames 1…N−1.
"""

from __future__ import annotations

import argparse
import json
import os
import runpy
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402
import dloral as dloral_parity  # noqa: E402  (its mmcv/mmengine/CUDA shims)
from tests.helpers_dloral import FIXTURES as FIX_WEIGHTS  # noqa: E402
from tests.helpers_dloral import fixture_model_pkl  # noqa: E402

SEED = 4321
CFR_MID = 8
#: Official script options for the runs (tile sizes small enough to tile at this size).
TILES = {"vae_encoder_tiled_size": 192, "vae_decoder_tiled_size": 24,
         "latent_tiled_size": 64, "latent_tiled_overlap": 16}  # fmt: skip
CASES = {"four": (4, 32, 36), "odd": (3, 33, 37)}
VAE_CONFIG = {
    "block_out_channels": [32, 32, 32, 32],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "latent_channels": 4,
    "sample_size": 64,
}


def lr_frames(n: int, h: int, w: int, seed: int) -> np.ndarray:
    """(n, h, w, 3) uint8: a smooth scene drifting by a pixel per frame, plus grain."""
    g = torch.Generator().manual_seed(seed)
    scene = torch.rand(1, 3, h // 4 + 2, w // 4 + 2, generator=g)
    scene = torch.nn.functional.interpolate(scene, size=(h + 2 * n, w + 2 * n), mode="bicubic")
    frames = []
    for k in range(n):
        crop = scene[0, :, k : k + h, 2 * k : 2 * k + w].clamp(0, 1)
        crop = crop + 0.03 * torch.randn(crop.shape, generator=g)
        frames.append((crop.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy())
    return np.stack(frames)


def _without_cuda(to):  # noqa: ANN001, ANN202
    """`to` with any "cuda" device argument dropped."""

    def wrapped(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        args = tuple(a for a in args if a != "cuda")
        if kwargs.get("device") == "cuda":
            kwargs.pop("device")
        return to(self, *args, **kwargs) if args or kwargs else self

    return wrapped


def _install_shims(torchvision_dir: Path, frames_by_path: dict[str, np.ndarray]) -> None:
    import cv2
    import diffusers
    import transformers  # noqa: F401  (probes torchvision on import: before the bypass)

    dloral_parity._install_shims(stub_torchvision=False)
    common.bypass_torchvision(torchvision_dir)
    import torchvision.transforms  # noqa: F401  (the real modules, found through __path__)

    module = dloral_parity.fake_module

    class FakeDAPE(nn.Module):
        def forward(self, *a, **k):  # noqa: ANN002, ANN003, ANN202
            raise AssertionError("the tagger is replaced by a fixed caption")

    module("ram", inference_ram=lambda image, model: ["a fixed caption"])
    module("ram.models")
    module("ram.models.ram_lora", ram=lambda **k: FakeDAPE())

    # `.to("cuda")` on a CPU build: dropped (dloral.py's shims make `.cuda()` a no-op).
    nn.Module.to = _without_cuda(nn.Module.to)  # type: ignore[method-assign]
    torch.Tensor.to = _without_cuda(torch.Tensor.to)  # type: ignore[method-assign]
    tensor = torch.tensor

    def tensor_on_cpu(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        if str(kwargs.get("device", "")).startswith("cuda"):
            kwargs["device"] = "cpu"
        return tensor(*args, **kwargs)

    torch.tensor = tensor_on_cpu
    diffusers.ModelMixin.enable_xformers_memory_efficient_attention = lambda self, *a, **k: None

    class FakeCapture:
        """cv2.VideoCapture over frames we hold (RGB → BGR, as a decoder gives them)."""

        def __init__(self, path: str) -> None:
            self.frames = [f[..., ::-1].copy() for f in frames_by_path[path]]

        def read(self):  # noqa: ANN202
            return (True, self.frames.pop(0)) if self.frames else (False, None)

        def release(self) -> None:
            pass

    cv2.VideoCapture = FakeCapture


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("official", type=Path)
    ap.add_argument("torchvision", type=Path, help="an unpacked wheel's torchvision/ folder")
    ap.add_argument("--out", type=Path, default=REPO / "tests" / "fixtures" / "dloral_e2e")
    args = ap.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="dloral_e2e_"))

    from diffusers import AutoencoderKL, UNet2DConditionModel
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

    from vsrup.methods.dloral.config import UNET_TINY

    frames = {f"{work}/{name}.mp4": lr_frames(n, h, w, SEED + i)
              for i, (name, (n, h, w)) in enumerate(CASES.items())}  # fmt: skip
    root = dloral_parity._official_root(args.official.resolve())
    _install_shims(args.torchvision.resolve(), frames)
    sys.path.insert(0, str(root))
    os.chdir(root)
    import src.DLoRAL_model as official  # noqa: PLC0415 (imported after the shims)
    from src.cross_frame_retrieval.cfr_main import CFR_model

    DiagonalGaussianDistribution.sample = lambda self, generator=None: self.mode().contiguous()
    gen = torch.Generator().manual_seed(SEED)
    torch.manual_seed(SEED)
    vae = AutoencoderKL(**VAE_CONFIG)
    with torch.no_grad():
        for p in vae.parameters():
            p.copy_(p.half().float())  # fp16-exact values, stored as fp16
    embeds = load_file(FIX_WEIGHTS / "embeds.safetensors")["embeds"].float()

    class FakeTokenizer:
        model_max_length = 77

        def __call__(self, *a, **k):  # noqa: ANN002, ANN003, ANN204
            return SimpleNamespace(input_ids=torch.zeros(1, 77, dtype=torch.long))

    class FakeTextEncoder(nn.Module):
        device = torch.device("cpu")

        def forward(self, ids):  # noqa: ANN001, ANN202
            return (embeds,)

    width = UNET_TINY["block_out_channels"][0]
    shim_nn = {k: getattr(nn, k) for k in dir(nn) if not k.startswith("_")}
    shim_nn["Conv2d"] = lambda cin, cout, **kw: nn.Conv2d(cin, width if cout == 320 else cout, **kw)
    official.nn = SimpleNamespace(**shim_nn)
    official.UNet2DConditionModel = SimpleNamespace(
        from_pretrained=lambda *a, **k: UNet2DConditionModel(**UNET_TINY)
    )
    official.AutoencoderKL = SimpleNamespace(from_pretrained=lambda *a, **k: vae)
    official.AutoTokenizer = SimpleNamespace(from_pretrained=lambda *a, **k: FakeTokenizer())
    official.CLIPTextModel = SimpleNamespace(from_pretrained=lambda *a, **k: FakeTextEncoder())
    official.make_1step_sched = lambda args: None  # unused by the forward pass
    official.CFR_model = lambda **kw: CFR_model(**{**kw, "mid_channels": CFR_MID})
    del gen

    pkl = work / "model.pkl"
    fixture_model_pkl(pkl)
    script = root / "src" / "test_DLoRAL.py"
    for name in CASES:
        argv = [str(script), "-i", f"{work}/{name}.mp4", "-o", str(work / "out"),
                "--pretrained_path", str(pkl), "--pretrained_model_path", "sd",
                "--pretrained_model_name_or_path", "sd", "--mixed_precision", "fp32",
                "--load_cfr", "--stages", "1", "--process_size", "512"]  # fmt: skip
        for key, value in TILES.items():
            argv += [f"--{key}", str(value)]
        sys.argv = argv
        with torch.no_grad():
            runpy.run_path(str(script), run_name="__main__")

    from PIL import Image

    tensors = {}
    for name, (n, _, _) in CASES.items():
        tensors[f"{name}.inputs"] = torch.from_numpy(
            np.ascontiguousarray(frames[f"{work}/{name}.mp4"])
        )
        outs = [np.asarray(Image.open(work / "out" / name / f"frame_{k:04d}.png").convert("RGB"))
                for k in range(1, n)]  # fmt: skip
        tensors[f"{name}.outputs"] = torch.from_numpy(np.stack(outs))
        print(name, tensors[f"{name}.inputs"].shape, "→", tensors[f"{name}.outputs"].shape)
    meta = {"tiles": json.dumps(TILES), "vae": json.dumps(VAE_CONFIG),
            "source": "yjsunnn/DLoRAL@40c13086 src/test_DLoRAL.py"}  # fmt: skip
    save_file(tensors, str(out / "frames.safetensors"), metadata=meta)
    save_file(
        {k: v.detach().half().contiguous() for k, v in vae.state_dict().items()},
        str(out / "weights_vae.safetensors"),
    )
    for f in sorted(out.glob("*.safetensors")):
        print(f"{f.name}: {f.stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
