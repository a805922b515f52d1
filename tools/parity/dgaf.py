"""Run the official DGAF-VSR pipeline at a tiny random configuration; save fixtures.

Usage: python tools/parity/dgaf.py PATH/TO/DGAF-VSR
       python tools/parity/dgaf.py PATH/TO/DGAF-VSR --frames 14 --case long

With `--case NAME` only `case_NAME.safetensors` is written (N frames of the same scene and
the same weights, rebuilt from their seeds and checked against the stored ones): the
whole-sequence case of tests/unit/test_stablevsr_sequence.py longer than the old 12-frame
window.

PATH/TO/DGAF-VSR is a checkout of tszssong/DGAF-VSR (never committed here). The official code
is a diffusers 0.27.0.dev0 fork; it runs from its own `src/` (put first on sys.path), so the
official DGAFNetModel, the fork's UNet with its injection points, its DDPM scheduler and its
pipeline are all the official code.

Shims, all outside the official code: `transformers.utils.FLAX_WEIGHTS_NAME` (dropped by
transformers 5, imported by diffusers 0.27), an empty `torchvision` module (imported,
unused), a fake RAFT replaying precomputed flows (also saved for our side), no text encoder
(`prompt_embeds` passed instead), CPU instead of CUDA, no xformers. The global RNG is seeded
right before the call; our side uses a CPU generator with that seed.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

OUT = common.REPO / "tests" / "fixtures" / "dgaf"
STEPS = 4  # even: the order ends where it started


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("official", type=Path)
    ap.add_argument("--frames", type=int, default=common.N_FRAMES)
    ap.add_argument("--case", help="write only case_CASE.safetensors")
    args = ap.parse_args()
    common.N_FRAMES = args.frames
    torch.set_num_threads(2)
    import transformers.utils as tu

    if not hasattr(tu, "FLAX_WEIGHTS_NAME"):
        tu.FLAX_WEIGHTS_NAME = "flax_model.msgpack"
    for name in [m for m in sys.modules if m == "diffusers" or m.startswith("diffusers.")]:
        del sys.modules[name]  # `common` imported our package, not diffusers; be sure anyway
    sys.path.insert(0, str(args.official / "src"))
    sys.path.insert(0, str(args.official / "examples" / "dgafvsr"))  # util.flow_utils
    import diffusers

    assert Path(diffusers.__file__).is_relative_to(args.official), diffusers.__file__
    common.stub_torchvision()
    from diffusers import AutoencoderKL, DDPMScheduler
    from diffusers.models.dgafnet import DGAFNetModel
    from diffusers.models.unets.unet_2d_condition import UNet2DConditionModel
    from diffusers.pipelines.dgafnet.pipeline_DGAFFeaAlign import DGAFFeaAlignPipeline
    from PIL import Image

    print("official DGAF-VSR pipeline on diffusers", diffusers.__version__, diffusers.__file__)
    cfg = common.base_configs()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**cfg["unet"]).eval()
    vae = AutoencoderKL(**cfg["vae"]).eval()
    dgafnet = DGAFNetModel.from_unet(unet, conditioning_channels=4).eval()
    common.randomise(dgafnet, ("dgafnet_",), 3, std=0.2)
    scheduler = DDPMScheduler.from_config(cfg["scheduler"])
    g = torch.Generator().manual_seed(5)
    emb = torch.randn((1, 4, cfg["unet"]["cross_attention_dim"]), generator=g)

    frames = common.lr_frames()
    fwd, bwd = common.smooth_flows(21), common.smooth_flows(22)
    pipe = DGAFFeaAlignPipeline(
        vae=vae,
        text_encoder=None,
        tokenizer=None,
        unet=unet,
        dgafnet=dgafnet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    torch.manual_seed(common.SEED)
    out = pipe(
        None,
        [Image.fromarray(f) for f in frames],
        num_inference_steps=STEPS,
        guidance_scale=0,
        of_model=common.FakeRaft(fwd, bwd),
        prompt_embeds=emb,
        output_type="pt",
    ).images
    hr = torch.cat(list(out), dim=0)
    print("output", tuple(hr.shape), float(hr.min()), float(hr.max()))

    # One UNet call with and one without DGAFNet additions, to test the injection alone.
    x = torch.randn((1, 7, common.LR_H, common.LR_W), generator=g)
    cond = torch.randn((1, 4, common.LR_H, common.LR_W), generator=g)
    t = torch.tensor(501)
    with torch.no_grad():
        d, m, u = dgafnet(x, t, encoder_hidden_states=emb, dgafnet_cond=cond, return_dict=False)
        injected = unet(
            x,
            t,
            encoder_hidden_states=emb,
            down_block_add_samples=list(d),
            mid_block_add_sample=m,
            up_block_add_samples=list(u),
            return_dict=False,
        )[0]

    meta = {**cfg, "steps": STEPS, "seed": common.SEED, "diffusers": diffusers.__version__}
    if args.case:
        from safetensors.torch import load_file

        stored = load_file(str(OUT / "dgafnet" / "diffusion_pytorch_model.safetensors"))
        stored |= {f"unet.{k}": v for k, v in load_file(str(OUT / "unet.safetensors")).items()}
        rebuilt = dgafnet.state_dict() | {f"unet.{k}": v for k, v in unet.state_dict().items()}
        assert all(torch.equal(stored[k], rebuilt[k]) for k in stored), "weights differ"
        tensors = {"lr_uint8": torch.from_numpy(frames), "forward_flows": fwd,
                   "backward_flows": bwd, "prompt_embeds": emb, "official_hr": hr}  # fmt: skip
        common.save(OUT / f"case_{args.case}.safetensors", tensors, meta)
        return
    common.save(OUT / "unet.safetensors", unet.state_dict())
    common.save(OUT / "vae.safetensors", vae.state_dict())
    folder = OUT / "dgafnet"
    shutil.rmtree(folder, ignore_errors=True)
    dgafnet.save_pretrained(folder, safe_serialization=True)
    saved = json.loads((folder / "config.json").read_text())
    print("wrote", folder.relative_to(common.REPO), saved["_class_name"])
    tensors = {
        "lr_uint8": torch.from_numpy(frames),
        "forward_flows": fwd,
        "backward_flows": bwd,
        "prompt_embeds": emb,
        "official_hr": hr,
        "unet_in": x,
        "unet_cond": cond,
        "unet_injected": injected,
    }
    tensors |= {f"dgafnet_down_{i}": v for i, v in enumerate(d)}
    tensors |= {f"dgafnet_up_{i}": v for i, v in enumerate(u)}
    tensors["dgafnet_mid"] = m
    common.save(OUT / "case.safetensors", tensors, {**meta, "t": 501})


if __name__ == "__main__":
    main()
