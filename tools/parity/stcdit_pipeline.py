"""End-to-end parity fixtures for STCDiT: the official `test_tlc_seg` at a tiny config on CPU.

Usage: PYTHONPATH=<dir with einops> python tools/parity/stcdit_pipeline.py REPO
       [--out tests/fixtures/stcdit_pipeline]

REPO is a checkout of github.com/JyChen9811/STCDiT or its bare git directory. For each case
the script runs the official chain on uint8 frames: `analyze_video_motion` (segments) →
`load_video` (PIL Lanczos ×s, down to a multiple of 16) → `test_tlc_seg` (motion-aware VAE,
one sampling run with 3-D tiles, anchors, segment decode) → `save_video`'s resize back. The DiT
is the official `WanModel_t2v_tiny` (2 blocks, LoRA r = 4, random weights), the VAE the
official DiffSynth `VideoVAE_` at diffusers' tiny config (base 8, one res block per level).

Shims (here, never in the package): the official modules are executed from source with stub
modules for what they import but this chain never calls (model manager, text encoder,
prompter, VRAM management, torchvision, matplotlib); `cv2.VideoCapture` in the segmenter reads
the case's frames from memory instead of a file; `torch.device('cuda')` in the tiler's weights
becomes the CPU; the prompt embedding is a fixed random tensor. Everything else is the
official code as published.

Per case it writes `<case>.safetensors` (LR frames uint8, output frames uint8, the final
latents in fp32, the context) with the segments and settings as JSON metadata, and once the
weights: `weights.safetensors` (DiT under `pipe.dit.`, VAE under `vae.` official names).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from stcdit import DIMS, load_official, read_source, with_lora  # noqa: E402
from tests.helpers_stcdit_pipeline import CASES, TINY_VAE, case_frames  # noqa: E402

PKG = "_stcdit_pipe"


def _module(name: str, **attrs: object) -> types.ModuleType:
    mod = types.ModuleType(name)
    mod.__dict__.update(attrs)
    if "." not in name or name.count(".") < 2:
        mod.__path__ = []  # a package, so submodules resolve
    sys.modules[name] = mod
    return mod


def _exec(repo: Path, rel: str, name: str, replace: dict[str, str] | None = None):  # noqa: ANN202
    source = read_source(repo, rel)
    for old, new in (replace or {}).items():
        if old not in source:
            raise SystemExit(f"shim target {old!r} not found in {rel}")
        source = source.replace(old, new)
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = name.rpartition(".")[0]
    sys.modules[name] = module
    exec(compile(source, rel, "exec"), module.__dict__)  # noqa: S102
    return module


class _Stub:
    def __init__(self, *a: object, **k: object) -> None:
        pass


def load_pipeline(repo: Path):  # noqa: ANN201
    """The official pipeline module with its DiT and VAE modules, imported from source."""
    import cv2  # noqa: F401  (real; imported before the torchvision stub)
    import diffusers  # noqa: F401
    import transformers  # noqa: F401

    tv = _module("torchvision")
    tvt = _module("torchvision.transforms", GaussianBlur=_Stub)
    tv.transforms = tvt

    class _Identity:
        def __init__(self, *a: object, size: tuple[int, int] | None = None, **k: object) -> None:
            self.size = size

        def __call__(self, x: torch.Tensor) -> torch.Tensor:
            # v2.Resize(size=(height, width)) on frames that already have that size.
            if self.size is not None and tuple(x.shape[-2:]) != tuple(self.size):
                raise SystemExit(f"v2.Resize stub: {tuple(x.shape[-2:])} != {self.size}")
            return x

    def _compose(ts: list) -> object:  # noqa: ANN001
        return ts[0]

    v2 = _module("torchvision.transforms.v2", Compose=_compose, Resize=_Identity)
    tvt.v2 = v2
    plt = _module("matplotlib.pyplot")
    _module("matplotlib", pyplot=plt)

    _module(PKG)
    _module(f"{PKG}.models", ModelManager=_Stub)
    _module(f"{PKG}.models.utils", hash_state_dict_keys=lambda *a, **k: "")
    dit_cls = load_official(repo, "tiny")  # the official DiT file, as the DiT fixtures load it
    dit_mod = sys.modules[dit_cls.__module__]
    sys.modules[f"{PKG}.models.wan_video_dit_t2v_tiny"] = dit_mod
    # `..models.wan_video_dit` only provides RMSNorm/sinusoidal_embedding_1d to the pipeline;
    # the tiny DiT file defines the same functions.
    sys.modules[f"{PKG}.models.wan_video_dit"] = dit_mod
    _module(
        f"{PKG}.models.wan_video_text_encoder",
        WanTextEncoder=_Stub,
        T5RelativeEmbedding=_Stub,
        T5LayerNorm=_Stub,
    )
    _module(f"{PKG}.models.wan_video_image_encoder", WanImageEncoder=_Stub)
    vae_mod = _exec(repo, "diffsynth/models/wan_video_vae.py", f"{PKG}.models.wan_video_vae")
    _module(f"{PKG}.schedulers")
    _exec(repo, "diffsynth/schedulers/flow_match.py", f"{PKG}.schedulers.flow_match")
    _module(f"{PKG}.pipelines")
    _exec(repo, "diffsynth/pipelines/base.py", f"{PKG}.pipelines.base")
    _module(f"{PKG}.prompters", WanPrompter=_Stub)
    _module(
        f"{PKG}.vram_management",
        enable_vram_management=_Stub,
        AutoWrappedModule=_Stub,
        AutoWrappedLinear=_Stub,
    )
    pipe_mod = _exec(
        repo,
        "diffsynth/pipelines/wan_video_t2v_tiny.py",
        f"{PKG}.pipelines.wan_video_t2v_tiny",
        replace={"device=torch.device('cuda')": "device=torch.device('cpu')"},
    )
    return pipe_mod, dit_cls, vae_mod


def load_segmenter(repo: Path, frames: np.ndarray):  # noqa: ANN201
    """The official `analyze_video_motion`, reading `frames` (RGB uint8) from memory."""
    import cv2

    class _Capture:
        def __init__(self, path: str) -> None:
            self.frames = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames]

        def isOpened(self) -> bool:  # noqa: N802
            return True

        def read(self) -> tuple[bool, np.ndarray | None]:
            return (True, self.frames.pop(0)) if self.frames else (False, None)

        def release(self) -> None:
            pass

    shim = types.ModuleType("cv2_shim")
    shim.__dict__.update({k: getattr(cv2, k) for k in dir(cv2) if not k.startswith("__")})
    shim.VideoCapture = _Capture
    module = types.ModuleType("_stcdit_motion")
    source = read_source(repo, "Inference/video_motion_detection.py")
    module.__dict__["__name__"] = "_stcdit_motion"
    exec(compile(source, "video_motion_detection.py", "exec"), module.__dict__)  # noqa: S102
    module.cv2 = shim
    return module.analyze_video_motion


def official_vae(vae_mod: types.ModuleType, seed: int):  # noqa: ANN201
    """DiffSynth's WanVideoVAE wrapper around a tiny `VideoVAE_` (random weights)."""
    torch.manual_seed(seed)
    model = vae_mod.VideoVAE_(
        dim=TINY_VAE["base_dim"],
        z_dim=TINY_VAE["z_dim"],
        dim_mult=TINY_VAE["dim_mult"],
        num_res_blocks=TINY_VAE["num_res_blocks"],
    ).eval()
    with torch.no_grad():  # non-trivial norms, so a wrong mapping cannot hide
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(1 + 0.1 * torch.randn(p.shape))
    vae = vae_mod.WanVideoVAE.__new__(vae_mod.WanVideoVAE)
    torch.nn.Module.__init__(vae)
    mean = torch.tensor(_WAN_MEAN)
    std = torch.tensor(_WAN_STD)
    vae.mean, vae.std, vae.scale = mean, std, [mean, 1.0 / std]
    vae.model = model
    vae.upsampling_factor = 8
    return vae


# The Wan2.1 latent statistics of `WanVideoVAE.__init__` (also diffusers' defaults).
_WAN_MEAN = [-0.7571, -0.7089, -0.9113, 0.1075, -0.1745, 0.9653, -0.1517, 1.5508,
             0.4134, -0.0715, 0.5517, -0.3632, -0.1922, -0.9497, 0.2503, -0.2921]  # fmt: skip
_WAN_STD = [2.8184, 1.4541, 2.3275, 2.6558, 1.2196, 1.7708, 2.6052, 2.0743,
            3.2687, 2.1526, 2.8652, 1.5579, 1.6382, 1.1253, 2.8251, 1.9160]  # fmt: skip


def official_dit(dit_cls: type):  # noqa: ANN201
    torch.manual_seed(0)
    dit = dit_cls(
        in_dim=16, out_dim=16, eps=1e-6, patch_size=(1, 2, 2), has_image_input=False, **DIMS
    )
    return with_lora(dit, seed=0)


def run_case(pipe_mod, dit, vae, repo: Path, name: str, out: Path) -> None:  # noqa: ANN001
    from PIL import Image

    case = CASES[name]
    frames = case_frames(name)  # (N, h, w, 3) uint8
    segments = load_segmenter(repo, frames)("<memory>", minimal_segment_length=case["max_segment"])
    covered = sum(e - s for s, e in segments)
    if covered != len(frames) or segments[0][0] != 0:
        raise SystemExit(f"{name}: the official segmenter covered {covered} of {len(frames)}")
    # Official load_video.
    scale = case["scale"]
    images, target = [], None
    for f in frames:
        img = Image.fromarray(f)
        w, h = img.size
        target = (w * scale, h * scale)
        img = img.resize(target, Image.LANCZOS)
        nw, nh = target[0] // 16 * 16, target[1] // 16 * 16
        if (nw, nh) != target:
            img = img.resize((nw, nh), Image.LANCZOS)
        images.append(img)
    width, height = images[0].size
    hk = height // 8 if height < case["max_hw"][0] else case["max_hw"][0] // 8
    wk = width // 8 if width < case["max_hw"][1] else case["max_hw"][1] // 8

    pipe = pipe_mod.WanVideoPipeline_t2v_tiny(device="cpu", torch_dtype=torch.float32)
    pipe.dit, pipe.vae = dit, vae
    context = torch.randn(1, 8, DIMS["text_dim"], generator=torch.Generator().manual_seed(3))
    pipe.prompter = types.SimpleNamespace(encode_prompt=lambda *a, **k: context)
    captured: dict[str, torch.Tensor] = {}
    original_decode = pipe.decode_video

    def decode_video(latents: torch.Tensor, **kw: object) -> torch.Tensor:
        captured.setdefault("parts", []).append(latents.clone())
        return original_decode(latents, **kw)

    pipe.decode_video = decode_video
    result = pipe.test_tlc_seg(
        input_lq=images,
        segments=segments,
        prompt="",
        num_inference_steps=case["steps"],
        cfg_scale=1.0,
        width=width,
        height=height,
        num_frames=len(images),
        tiled=True,
        tile_kernel=(case["tile_frames"], hk, wk),
        seed=42,
    )
    # Official save_video: back to the ×s size.
    result = [
        np.asarray(im if im.size == target else im.resize(target, Image.LANCZOS)) for im in result
    ]
    latents = torch.cat(captured["parts"], dim=2)[0]
    tensors = {
        "lr": torch.from_numpy(frames),
        "out": torch.from_numpy(np.stack(result)),
        "latents": latents.float().contiguous(),
        "context": context,
    }
    meta = {"segments": [list(s) for s in segments], **case}
    from safetensors.torch import save_file

    save_file(tensors, str(out / f"{name}.safetensors"), {"json": json.dumps(meta)})
    print(f"{name}: {len(frames)} frames {frames.shape[1:3]} → {tensors['out'].shape[1:3]}, "
          f"segments {len(segments)}, latents {tuple(latents.shape)}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("repo", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "tests/fixtures/stcdit_pipeline")
    parser.add_argument("--case", action="append", help="only these cases")
    args = parser.parse_args()
    torch.set_num_threads(2)
    pipe_mod, dit_cls, vae_mod = load_pipeline(args.repo)
    dit = official_dit(dit_cls)
    vae = official_vae(vae_mod, seed=5)
    args.out.mkdir(parents=True, exist_ok=True)
    from safetensors.torch import save_file

    weights = {f"pipe.dit.{k}": v.contiguous() for k, v in dit.state_dict().items()}
    weights |= {f"vae.{k}": v.contiguous() for k, v in vae.model.state_dict().items()}
    save_file(weights, str(args.out / "weights.safetensors"))
    for name in args.case or list(CASES):
        with torch.no_grad():
            run_case(pipe_mod, dit, vae, args.repo, name, args.out)


if __name__ == "__main__":
    main()
