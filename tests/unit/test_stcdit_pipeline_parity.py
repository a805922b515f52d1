"""STCDiT end to end against the official pipeline (fixtures: tools/parity/stcdit_pipeline.py).

The official chain (motion segmentation → PIL resizes → `test_tlc_seg`: per-segment VAE on
its spatial tiles, one sampling run over all latent frames with 3-D tiles blended every step,
anchors per tile → segment decode → truncating uint8 → resize back) ran at a tiny config on
CPU in fp32 with random weights. We load the same weights (DiT through our converter's
renaming, VAE into diffusers' AutoencoderKLWan) and must reproduce, through the engine's
`run_stream`, its segments and its uint8 frames to ≤ 1 LSB, and its final latents to 1e-5.
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import torch

from tests.helpers_stcdit_pipeline import (
    CASES,
    FIXTURES,
    TINY_VAE,
    case_frames,
    official_vae_to_diffusers,
)


def _fixture(name: str) -> tuple[dict[str, torch.Tensor], dict]:
    from safetensors import safe_open

    with safe_open(str(FIXTURES / f"{name}.safetensors"), "pt") as f:
        meta = json.loads(f.metadata()["json"])
        return {k: f.get_tensor(k) for k in f.keys()}, meta  # noqa: SIM118


def _parts(case: dict, context: torch.Tensor):  # noqa: ANN202
    from diffusers import AutoencoderKLWan
    from safetensors.torch import load_file

    from vsrup.hub.safe_load import check_keys
    from vsrup.methods.stcdit.config import PRESETS
    from vsrup.methods.stcdit.convert import official_to_ours
    from vsrup.methods.stcdit.model import build
    from vsrup.methods.stcdit.pipeline import STCDiTParts

    weights = load_file(FIXTURES / "weights.safetensors")
    model = build(PRESETS["test"]).eval()
    dit = official_to_ours({k: v for k, v in weights.items() if k.startswith("pipe.dit.")})
    check_keys(dit, model.state_dict())
    model.load_state_dict(dit)
    vae = AutoencoderKLWan(**TINY_VAE).eval()
    native = {k[4:]: v for k, v in weights.items() if k.startswith("vae.")}
    vae.load_state_dict(official_vae_to_diffusers(native, TINY_VAE["num_res_blocks"]))
    return STCDiTParts(
        model, vae, context, None, 1.0, tile_frames=case["tile_frames"], tile_max_hw=case["max_hw"]
    )


def _method(parts, scale: int, steps: int):  # noqa: ANN001, ANN202
    from vsrup.engine.runtime import resolve_runtime
    from vsrup.interface.method import MethodOptions
    from vsrup.methods.stcdit import STCDiTMethod

    runtime = resolve_runtime("cpu", "fp32", ("fp32",))
    options = MethodOptions(scale=scale, steps=steps, seed=42)
    return STCDiTMethod(parts, runtime, options), runtime


@pytest.mark.parametrize("name", list(CASES))
def test_engine_reproduces_the_official_pipeline(name: str) -> None:
    from vsrup.engine.scheduler import StreamOptions, run_stream

    tensors, meta = _fixture(name)
    lr = case_frames(name)
    assert np.array_equal(lr, tensors["lr"].numpy()), "the case's frames changed"
    method, runtime = _method(_parts(meta, tensors["context"]), meta["scale"], meta["steps"])
    tensor = torch.from_numpy(lr).permute(0, 3, 1, 2).float() / 255
    frames = [(f, Fraction(i)) for i, f in enumerate(tensor)]
    got: list[np.ndarray] = []
    result = run_stream(frames, method, lambda f, _pts: got.append(f), runtime, StreamOptions())

    segments = [[s.start, s.end] for s in result.segmentation.segments]
    assert segments == meta["segments"]
    want = tensors["out"].numpy()
    out = np.stack(got)
    assert out.shape == want.shape
    diff = np.abs(out.astype(int) - want.astype(int))
    print(f"{name}: max {diff.max()} LSB, mean {diff.mean():.5f}")
    assert diff.max() <= 1, f"max {diff.max()} LSB, mean {diff.mean():.4f}"


@pytest.mark.parametrize("name", ["long", "motion"])
def test_final_latents_match_in_fp32(name: str) -> None:
    from vsrup.methods.stcdit.video import VideoRun

    tensors, meta = _fixture(name)
    parts = _parts(meta, tensors["context"])
    run = VideoRun(parts, meta["scale"], meta["steps"], seed=42)
    lr = torch.from_numpy(case_frames(name)).permute(0, 3, 1, 2).float() / 255
    for start, end in meta["segments"]:
        run.add_segment(lr[start:end])
    try:
        n_out = sum(1 for _ in run.frames())
        assert run.states is not None
        latents = run.states.current.read((slice(None),)).permute(1, 0, 2, 3)
    finally:
        run.close()
    assert n_out == len(lr)
    torch.testing.assert_close(latents, tensors["latents"], atol=1e-5, rtol=1e-5)
