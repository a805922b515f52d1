"""End-to-end parity fixtures for `stablevsr` and `dgaf`: the OFFICIAL pipelines on uint8 frames.

    PYTHONPATH=src:. python tools/parity/stablevsr_e2e.py stablevsr PATH/TO/StableVSR TV_DIR
    PYTHONPATH=src:. python tools/parity/stablevsr_e2e.py dgaf PATH/TO/DGAF-VSR TV_DIR

PATH is a checkout (or a bare git directory's worktree) of claudiom4sir/StableVSR (c8a165f3)
or tszssong/DGAF-VSR (b549b8b4; its own diffusers 0.27 fork runs from `src/`). TV_DIR is an
unpacked torchvision wheel's `torchvision/` folder (`pip download --no-deps torchvision`,
then unzip): torchvision's own `raft_large` computes the flows, imported with the package's
`__init__` bypassed (its compiled ops do not load beside our torch; RAFT does not need them).

What runs is what the official `test.py` / `test_dgafvsr.py` do per sequence: uint8 RGB PIL
frames into `pipeline('', frames, num_inference_steps, guidance_scale=0, of_model=raft)`,
which pre-processes them with `VaeImageProcessor(vae_scale_factor=4)` (sides rounded down to
a multiple of 4 with Pillow's Lanczos), samples the whole sequence, decodes and post-processes
to uint8 PIL images; their pixels are stored. What this tool supplies, and why:

- weights: the tiny random UNet, VAE and ControlNet / DGAFNet of tests/fixtures/stablevsr
  and tests/fixtures/dgaf (the method-level fixtures), a tiny CLIP text encoder
  (`tests/helpers_clip.py`; its weights are stored here) with a character-level tokenizer,
  through which the official pipeline encodes the empty prompt and
  RAFT-large with random weights (`tests.helpers_stablevsr.raft_state`: too large to store;
  its digest is), loaded into torchvision's `raft_large` and, like the official scripts,
  never put in eval mode;
- randomness: the official scripts call `set_seed(42)` and draw every sample from the global
  generator of the CUDA device; here, on CPU, the global generator is seeded with 42 right
  before each call (vsrup's `--seed 42` seeds its own generator the same way);
- CPU instead of CUDA, no xformers; for StableVSR the installed diffusers with the aliases of
  tools/parity/common.py; for DGAF `transformers.utils.FLAX_WEIGHTS_NAME` (see dgaf.py).

Cases: `long` = 14 frames of 32×32 (longer than the old 12-frame window), `four` = 4 frames
of 36×32 (width × height), `odd` = 3 frames of 37×33 (the official pre-processing resizes
them to 36×32).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(REPO / "src"), str(REPO), str(Path(__file__).resolve().parent)]
import common  # noqa: E402
from tests import helpers_stablevsr as H  # noqa: E402

SEED = 42  # the official scripts' set_seed(42); vsrup's default --seed
STEPS = 3  # odd: the official code reverses the latents back after the loop
CASES = {"long": (14, 32, 32), "four": (4, 32, 36), "odd": (3, 33, 37)}
SOURCES = {"stablevsr": "claudiom4sir/StableVSR@c8a165f3 pipeline/stablevsr_pipeline.py",
           "dgaf": "tszssong/DGAF-VSR@b549b8b4 pipeline_DGAFFeaAlign.py"}  # fmt: skip


def scene_frames(n: int, h: int, w: int, seed: int) -> np.ndarray:
    """(n, h, w, 3) uint8: a smooth random scene panning a pixel per frame, plus grain."""
    g = torch.Generator().manual_seed(seed)
    scene = torch.rand(1, 3, h // 6 + 3, w // 6 + 3, generator=g)
    scene = torch.nn.functional.interpolate(scene, size=(h + n, w + n), mode="bicubic")
    out = []
    for k in range(n):
        crop = scene[0, :, k // 2 : k // 2 + h, k : k + w] + 0.04 * torch.randn(
            3, h, w, generator=g
        )
        out.append((crop.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy())
    return np.stack(out)


def official_raft() -> torch.nn.Module:
    from torchvision.models.optical_flow.raft import raft_large

    raft = raft_large(weights=None, progress=False)
    raft.load_state_dict(H.raft_state(), strict=True)
    return raft.requires_grad_(False)  # never .eval(), as the official scripts


def stablevsr_pipeline(official: Path, tv_root: Path) -> tuple[object, object]:
    """The official StableVSRPipeline class, on the installed diffusers."""
    import importlib.util

    print("aliased for this diffusers:", common.shim_new_diffusers())
    common.bypass_torchvision(tv_root)
    sys.path.insert(0, str(official))  # `import util.flow_utils` inside the pipeline
    spec = importlib.util.spec_from_file_location(
        "stablevsr_official", official / "pipeline" / "stablevsr_pipeline.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    from diffusers import ControlNetModel, UNet2DConditionModel

    _, meta = H.load_case("stablevsr")
    controlnet = ControlNetModel.from_unet(
        UNet2DConditionModel(**meta["unet"]),
        conditioning_embedding_out_channels=tuple(meta["controlnet_embedding"]),
    ).eval()
    controlnet.load_state_dict(H.load_weights("stablevsr", "controlnet"), strict=True)
    return mod.StableVSRPipeline, {"controlnet": controlnet}


def dgaf_pipeline(official: Path, tv_root: Path) -> tuple[object, object]:
    """The official DGAFFeaAlignPipeline and DGAFNetModel, from the fork's own diffusers."""
    import transformers.utils as tu

    if not hasattr(tu, "FLAX_WEIGHTS_NAME"):
        tu.FLAX_WEIGHTS_NAME = "flax_model.msgpack"
    for name in [m for m in sys.modules if m == "diffusers" or m.startswith("diffusers.")]:
        del sys.modules[name]
    sys.path.insert(0, str(official / "src"))
    sys.path.insert(0, str(official / "examples" / "dgafvsr"))  # util.flow_utils
    import diffusers

    assert Path(diffusers.__file__).is_relative_to(official), diffusers.__file__
    common.bypass_torchvision(tv_root)
    from diffusers.models.dgafnet import DGAFNetModel
    from diffusers.pipelines.dgafnet.pipeline_DGAFFeaAlign import DGAFFeaAlignPipeline

    dgafnet = DGAFNetModel.from_pretrained(H.FIXTURES / "dgaf" / "dgafnet").eval()
    return DGAFFeaAlignPipeline, {"dgafnet": dgafnet}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("method", choices=("stablevsr", "dgaf"))
    ap.add_argument("official", type=Path)
    ap.add_argument("torchvision", type=Path, help="an unpacked wheel's torchvision/ folder")
    args = ap.parse_args()
    torch.set_num_threads(2)
    from safetensors.torch import save_file

    clip_dir = Path(tempfile.mkdtemp())
    tokenizer, encoder = H.clip_snapshot(clip_dir)
    te_path = H.E2E / "text_encoder.safetensors"
    if not te_path.is_file():  # written once (by the first method's run), then reused
        H.E2E.mkdir(parents=True, exist_ok=True)
        save_file(encoder.state_dict(), str(te_path))
    build = stablevsr_pipeline if args.method == "stablevsr" else dgaf_pipeline
    cls, guide = build(args.official.resolve(), args.torchvision.resolve())
    import diffusers
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
    from PIL import Image

    print(f"official {args.method} pipeline on diffusers {diffusers.__version__}")
    _, meta = H.load_case(args.method)
    unet = UNet2DConditionModel(**meta["unet"]).eval()
    unet.load_state_dict(H.load_weights(args.method, "unet"), strict=True)
    vae = AutoencoderKL(**meta["vae"]).eval()
    vae.load_state_dict(H.load_weights(args.method, "vae"), strict=True)
    pipe = cls(
        vae=vae, text_encoder=encoder, tokenizer=tokenizer, unet=unet,
        scheduler=DDPMScheduler.from_config(meta["scheduler"]), safety_checker=None,
        feature_extractor=None, requires_safety_checker=False, **guide,
    )  # fmt: skip
    pipe.set_progress_bar_config(disable=True)
    raft = official_raft()
    tensors = {}
    for i, (name, (n, h, w)) in enumerate(CASES.items()):
        frames = scene_frames(n, h, w, 100 + i)
        torch.manual_seed(SEED)
        with torch.no_grad():
            out = pipe(
                "", [Image.fromarray(f) for f in frames], num_inference_steps=STEPS,
                guidance_scale=0, of_model=raft,
            ).images  # fmt: skip
        pixels = np.stack([np.asarray(o[0].convert("RGB")) for o in out])
        print(
            name,
            frames.shape,
            "→",
            pixels.shape,
            "mean",
            float(pixels.mean()),
            "std",
            float(pixels.std()),
        )
        tensors[f"{name}.inputs"] = torch.from_numpy(np.ascontiguousarray(frames))
        tensors[f"{name}.outputs"] = torch.from_numpy(np.ascontiguousarray(pixels))
    meta_out = {"steps": str(STEPS), "seed": str(SEED), "source": SOURCES[args.method],
                "raft_digest": H.state_digest(H.raft_state()),
                "diffusers": diffusers.__version__}  # fmt: skip
    path = H.E2E / f"{args.method}.safetensors"
    save_file(tensors, str(path), metadata=meta_out)
    print(f"wrote {path.relative_to(REPO)} ({path.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
