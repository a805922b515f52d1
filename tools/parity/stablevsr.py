"""Run the official StableVSR pipeline at a tiny random configuration; save fixtures.

Usage: python tools/parity/stablevsr.py PATH/TO/StableVSR [--diffusers-src PATH/TO/src]
       python tools/parity/stablevsr.py PATH/TO/StableVSR --frames 14 --case long

With `--case NAME` only `case_NAME.safetensors` is written (N frames of the same scene, the
same weights, which are rebuilt identically from their seeds): the whole-sequence cases of
tests/unit/test_stablevsr_sequence.py (a clip longer than the old 12-frame window, a 4-frame
clip).

PATH/TO/StableVSR is a checkout of claudiom4sir/StableVSR (never committed here). By default
the official pipeline runs against the installed diffusers; `--diffusers-src` puts another
diffusers source tree first on sys.path instead (e.g. DGAF-VSR's 0.27 fork).

Shims, all outside the official code: an empty `torchvision` module (imported, unused), a fake
RAFT that replays precomputed flows (the same flows are saved for our side), no text encoder
(the empty-prompt embedding is passed as `prompt_embeds`), CPU instead of CUDA, no xformers.
The global RNG is seeded right before the call; our side uses a CPU generator with that seed.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402

OUT = common.REPO / "tests" / "fixtures" / "stablevsr"
STEPS = 3  # odd: the official code reverses the latents back after the loop


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("official", type=Path)
    ap.add_argument("--diffusers-src", type=Path)
    ap.add_argument("--frames", type=int, default=common.N_FRAMES)
    ap.add_argument("--case", help="write only case_CASE.safetensors")
    args = ap.parse_args()
    common.N_FRAMES = args.frames
    if args.diffusers_src:
        sys.path.insert(0, str(args.diffusers_src))
    torch.set_num_threads(2)
    import diffusers

    common.stub_torchvision()
    print("aliased for this diffusers:", common.shim_new_diffusers())
    sys.path.insert(0, str(args.official))  # `import util.flow_utils` inside the pipeline
    spec = importlib.util.spec_from_file_location(
        "stablevsr_official", args.official / "pipeline" / "stablevsr_pipeline.py"
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    print("official StableVSR pipeline on diffusers", diffusers.__version__)

    from diffusers import AutoencoderKL, ControlNetModel, DDPMScheduler, UNet2DConditionModel
    from PIL import Image

    cfg = common.base_configs()
    torch.manual_seed(0)
    unet = UNet2DConditionModel(**cfg["unet"]).eval()
    vae = AutoencoderKL(**cfg["vae"]).eval()
    controlnet = ControlNetModel.from_unet(
        unet, conditioning_embedding_out_channels=tuple(cfg["controlnet_embedding"])
    ).eval()
    common.randomise(
        controlnet,
        ("controlnet_down_blocks", "controlnet_mid_block", "controlnet_cond_embedding.conv_out"),
        3,
    )
    scheduler = DDPMScheduler.from_config(cfg["scheduler"])
    g = torch.Generator().manual_seed(5)
    emb = torch.randn((1, 4, cfg["unet"]["cross_attention_dim"]), generator=g)

    frames = common.lr_frames()
    fwd, bwd = common.smooth_flows(11), common.smooth_flows(12)
    pipe = mod.StableVSRPipeline(
        vae=vae,
        text_encoder=None,
        tokenizer=None,
        unet=unet,
        controlnet=controlnet,
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
    hr = torch.cat([o for o in out], dim=0)
    print("output", tuple(hr.shape), float(hr.min()), float(hr.max()))

    meta = {**cfg, "steps": STEPS, "seed": common.SEED, "diffusers": diffusers.__version__}
    if not args.case:
        common.save(OUT / "unet.safetensors", unet.state_dict())
        common.save(OUT / "controlnet.safetensors", controlnet.state_dict())
        common.save(OUT / "vae.safetensors", vae.state_dict())
    common.save(
        OUT / (f"case_{args.case}.safetensors" if args.case else "case.safetensors"),
        {
            "lr_uint8": torch.from_numpy(frames),
            "forward_flows": fwd,
            "backward_flows": bwd,
            "prompt_embeds": emb,
            "official_hr": hr,
        },
        meta,
    )


if __name__ == "__main__":
    main()
