"""Parity with the official DLoRAL code (fixtures written by tools/parity/dloral.py).

The official model.pkl is rebuilt from the fixture tensors (official key names), imported
through our converter, loaded into our network (LoRAs merged) and run on the same frames.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "dloral"
#: fp32 rounding through SpyNet's six levels and the merged (vs. unmerged) LoRAs stays below this.
ATOL = 2e-5


def _fp32(name: str) -> dict[str, torch.Tensor]:
    return {k: v.float() for k, v in load_file(FIX / name).items()}


def _official_pkl(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    with safe_open(str(FIX / "weights_unet.safetensors"), framework="pt") as fh:
        meta = fh.metadata()
    unet_sd = _fp32("weights_unet.safetensors")
    ckpt: dict = dict(json.loads(meta["lists"]))
    ranks = json.loads(meta["ranks"])
    ckpt["lora_rank_unet_quality"] = ranks["quality"]
    ckpt["lora_rank_unet_consistency"] = ranks["consistency"]
    ckpt["state_dict_unet"] = unet_sd
    ckpt["state_dict_bpp"] = {
        **_fp32("weights_cfr_a.safetensors"),
        **_fp32("weights_cfr_b.safetensors"),
    }
    path = tmp_path / "model.pkl"
    torch.save(ckpt, path)
    return path, unet_sd


def _base_unet(official_unet: dict[str, torch.Tensor]):  # noqa: ANN202
    """The SD "base" the official file was trained from: its non-LoRA weights, unwrapped."""
    from diffusers import UNet2DConditionModel

    from vsrup.methods.dloral.config import UNET_TINY

    unet = UNet2DConditionModel(**UNET_TINY)
    state = {}
    for key in unet.state_dict():
        module, _, param = key.rpartition(".")
        wrapped = f"{module}.base_layer.{param}"
        state[key] = official_unet[key] if key in official_unet else official_unet[wrapped]
    state["conv_in.weight"] = state["conv_in.weight"][:, :4]  # widened again by build_net
    unet.load_state_dict(state)
    return unet


@pytest.fixture(scope="module")
def ours(tmp_path_factory: pytest.TempPathFactory):  # noqa: ANN201
    from diffusers import AutoencoderKL

    from vsrup.methods.dloral.config import VAE_TINY, Tiling
    from vsrup.methods.dloral.convert import convert_official, read_converted
    from vsrup.methods.dloral.pipeline import PairRunner, components_from_state

    tmp = tmp_path_factory.mktemp("dloral_parity")
    pkl, official_unet = _official_pkl(tmp)
    converted = convert_official(pkl, tmp / "converted")
    state, ranks, targets = read_converted(converted)
    vae = AutoencoderKL(**VAE_TINY)
    vae.load_state_dict(_fp32("weights_vae.safetensors"))
    embeds = load_file(FIX / "embeds.safetensors")["embeds"]
    parts = components_from_state(
        _base_unet(official_unet), vae, state, ranks, targets, embeds, cfr_mid_channels=8
    )
    with safe_open(str(FIX / "outputs.safetensors"), framework="pt") as fh:
        meta = fh.metadata()
    tiling = Tiling(
        encoder=4096, decoder=4096, latent=int(meta["tile"]), latent_overlap=int(meta["overlap"])
    )
    return PairRunner(parts, tiling, color="none"), meta


@pytest.fixture(scope="module")
def expected() -> dict[str, torch.Tensor]:
    return load_file(FIX / "outputs.safetensors")


def _prepared(runner, expected):  # noqa: ANN001, ANN202
    from vsrup.methods.dloral.pipeline import Prepared

    frames = [load_file(FIX / f"inputs_{i}.safetensors")["frame"] for i in range(2)]
    out = []
    for i, f in enumerate(frames):
        c = (f.float() / 255).unsqueeze(0) * 2 - 1
        small = F.interpolate(c, scale_factor=1 / 8, mode="bicubic", align_corners=False)
        latent = expected["latents"][i : i + 1]
        out.append(Prepared(c, latent, small, (c.shape[-2], c.shape[-1])))
    return out


def test_vae_latents_match(ours, expected) -> None:  # noqa: ANN001
    runner, _ = ours
    prev, cur = _prepared(runner, expected)
    vae = runner.parts.vae
    with torch.no_grad():
        z = vae.encode(torch.cat([prev.image, cur.image])).latent_dist.mode()
    torch.testing.assert_close(z * runner.parts.scaling, expected["latents"], atol=ATOL, rtol=0)


def test_one_step_matches_official(ours, expected) -> None:  # noqa: ANN001
    """Stage by stage, each from the official previous stage's output: CFR, the merged-LoRA
    UNet step (x0) and the decoded image; then the whole chain from our own CFR output."""
    from vsrup.methods.dloral.config import TIMESTEP

    runner, meta = ours
    net, embeds = runner.parts.net, runner.parts.prompt_embeds
    prev, cur = _prepared(runner, expected)
    t = torch.tensor([TIMESTEP])
    y0, y1, x0_, x1 = json.loads(meta["crop"])
    with torch.no_grad():
        warped, fused = net.cfr(prev.latent, cur.latent, prev.small, cur.small)
        torch.testing.assert_close(warped[0], expected["cfr_aligned_prev"], atol=ATOL, rtol=0)
        torch.testing.assert_close(fused[0], expected["cfr_fused_cur"], atol=ATOL, rtol=0)

        ref_warped, ref_fused = expected["cfr_aligned_prev"][None], expected["cfr_fused_cur"][None]
        pred = net.unet(torch.cat([ref_warped, ref_fused], 1), t, embeds).sample
        torch.testing.assert_close(ref_fused - pred, expected["x0"], atol=ATOL, rtol=0)

        image = runner.decode(expected["x0"])[:, :, y0:y1, x0_:x1]
        torch.testing.assert_close(image, expected["image_crop"], atol=ATOL, rtol=0)

        # The chain: CFR rounding (~1e-5) grows through a random-weight UNet (|x0| up to ~5).
        chained = fused - net.unet(torch.cat([warped, fused], 1), t, embeds).sample
    torch.testing.assert_close(chained, expected["x0"], atol=5e-4, rtol=1e-4)
