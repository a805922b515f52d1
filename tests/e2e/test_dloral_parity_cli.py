"""`vsrup upscale -m dloral` against the official `test_DLoRAL.py`, end to end.

tests/fixtures/dloral_e2e holds uint8 LR frames and the official script's uint8 output PNGs,
written by tools/parity/dloral_e2e.py running the official code unmodified (tiny weights:
the UNet/CFR of tests/fixtures/dloral and a small 32-group VAE; fp32 on CPU). Here the same
weights go through `vsrup models import`'s converter and the CLI reads PNG folders and writes
PNGs, so everything between the files is ours: PIL pre-processing, tiled VAE with image-wide
GroupNorm statistics, latent tiles, 8-bit truncation, AdaIN and the resize back.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file
from typer.testing import CliRunner

from tests.helpers_dloral import FIXTURES, fixture_model_pkl
from vsrup.cli.app import app

E2E = FIXTURES.parent / "dloral_e2e"
runner = CliRunner()
pytestmark = pytest.mark.slow


def _meta() -> dict[str, str]:
    with safe_open(str(E2E / "frames.safetensors"), framework="pt") as fh:
        return fh.metadata()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sd21-base (the UNet config and the fixture VAE) and the imported model.pkl."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from vsrup.methods.dloral.config import UNET_TINY
    from vsrup.methods.dloral.convert import convert_official

    root = tmp_path_factory.mktemp("dloral_weights")
    with torch.device("meta"):
        UNet2DConditionModel(**UNET_TINY).save_config(root / "sd" / "unet")
    vae = AutoencoderKL(**json.loads(_meta()["vae"]))
    vae.load_state_dict(
        {k: v.float() for k, v in load_file(E2E / "weights_vae.safetensors").items()}
    )
    vae.save_pretrained(root / "sd" / "vae")
    fixture_model_pkl(root / "model.pkl")
    convert_official(root / "model.pkl", root / "dl")
    return root


# Both clips fit one default window (8 frames); with windows of 2 the engine cuts them into
# (0, 1) + (2, 3) and (0, 1) + (2,): each window's first frame pairs with a context frame and the
# odd clip's last window is simply shorter (tests/unit/test_chunks.py). Before context frames,
# a last window flush with the end made the method pair a repeated frame 1 with frame 2: up to
# 123 LSB off.
@pytest.mark.parametrize(("case", "window"), [("four", 8), ("odd", 8), ("four", 2), ("odd", 2)])
def test_upscale_equals_the_official_script(
    case: str, window: int, installed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dataclasses

    from vsrup.methods.dloral.method import DLoRAL

    assert DLoRAL.spec.window == 8  # the default this test names
    monkeypatch.setattr(DLoRAL, "spec", dataclasses.replace(DLoRAL.spec, window=window))
    from vsrup.methods.dloral import pipeline as PL

    embeds = load_file(FIXTURES / "embeds.safetensors")["embeds"].float()
    monkeypatch.setattr(PL, "load_prompt_encoder", lambda base_dir, model_id: lambda _: embeds)
    monkeypatch.setenv("VSRUP_WEIGHTS_SD21_BASE", str(installed / "sd"))
    monkeypatch.setenv("VSRUP_WEIGHTS_DLORAL", str(installed / "dl"))
    frames = load_file(E2E / "frames.safetensors")
    inputs, expected = frames[f"{case}.inputs"].numpy(), frames[f"{case}.outputs"].numpy()
    (tmp_path / "in").mkdir()
    for k, frame in enumerate(inputs):
        Image.fromarray(frame).save(tmp_path / "in" / f"{k:04d}.png")
    tiles = json.loads(_meta()["tiles"])
    args = ["upscale", str(tmp_path / "in"), "-o", str(tmp_path / "out" / "%06d.png")]
    args += ["-m", "dloral", "-s", "4", "--dtype", "fp32", "--device", "cpu", "-q"]
    args += ["--opt", "tags=off", "--opt", f"encoder_tile={tiles['vae_encoder_tiled_size']}"]
    args += ["--opt", f"decoder_tile={tiles['vae_decoder_tiled_size']}"]
    args += ["--opt", f"latent_tile={tiles['latent_tiled_size']}"]
    args += ["--opt", f"latent_overlap={tiles['latent_tiled_overlap']}"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    outs = sorted((tmp_path / "out").glob("*.png"))
    assert len(outs) == len(inputs)  # frame 0 too (the official script drops it)
    ours = np.stack([np.asarray(Image.open(p).convert("RGB")) for p in outs])
    assert ours.shape[1:3] == (4 * inputs.shape[1], 4 * inputs.shape[2])
    # Frames 1…N−1 are the official ones: at most one 8-bit step anywhere (fp32 rounding
    # can tip a truncation), and nearly everywhere identical.
    diff = np.abs(ours[1:].astype(int) - expected.astype(int))
    per_frame = [int(d.max()) for d in diff]
    assert diff.max() <= 1, f"max LSB per frame (from frame 1): {per_frame}"
    assert (diff > 0).mean() < 0.01, f"{(diff > 0).mean():.2%} of values differ"
