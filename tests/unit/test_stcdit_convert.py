"""Official STCDiT checkpoints → our layout, and loading them onto a base Wan DiT."""

from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import pytest
import torch

from tests.helpers_stcdit import load_fixture
from vsrup.errors import WeightsError
from vsrup.methods.stcdit import convert
from vsrup.methods.stcdit.convert import convert_official, official_to_ours

#: Copied from the reference material (tests/fixtures/manifests/README.md says how it was made).
MANIFEST = Path(__file__).resolve().parents[1] / "fixtures/manifests/stcdit_tiny_8k.json"


def _official_checkpoint(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """A `tiny_8k.bin`-like file at the test size: only the trained tensors, `pipe.dit.`
    names, an OrderedDict pickle, from the official model's own state dict (parity fixture)."""
    weights, _, _ = load_fixture("tiny")
    marks = ("lora_", "lq_", "key_frame", "dw_conv")
    trained = OrderedDict((k, v) for k, v in weights.items() if any(m in k for m in marks))
    path = tmp_path / "tiny_8k.bin"
    torch.save(trained, path)
    return path, weights


def _base_dir(tmp_path: Path, official: dict[str, torch.Tensor]) -> Path:
    """A diffusers-layout base transformer dir holding the official model's base weights."""
    from safetensors.torch import save_file

    base = {}
    for key, value in official_to_ours(official).items():
        if key.startswith("transformer.") and not any(
            m in key for m in ("lora_", "dw_conv", "lq_conv", "lq_inject_conv")
        ):
            base[key.removeprefix("transformer.").replace(".base_layer", "")] = value
    (tmp_path / "base" / "transformer").mkdir(parents=True)
    save_file(base, tmp_path / "base" / "transformer" / "diffusion_pytorch_model.safetensors")
    return tmp_path / "base"


def test_key_renames() -> None:
    r = convert.native_to_ours
    assert r("blocks.3.self_attn.q.lora_A.default.weight") == (
        "transformer.blocks.3.attn1.to_q.lora_A.default.weight"
    )
    assert r("blocks.0.cross_attn.o.lora_B.default.weight") == (
        "transformer.blocks.0.attn2.to_out.0.lora_B.default.weight"
    )
    assert r("blocks.1.ffn.0.lora_A.default.weight") == (
        "transformer.blocks.1.ffn.net.0.proj.lora_A.default.weight"
    )
    assert r("blocks.1.ffn.2.base_layer.bias") == "transformer.blocks.1.ffn.net.2.base_layer.bias"
    assert r("blocks.2.dw_conv.weight") == "transformer.blocks.2.dw_conv.weight"
    assert r("blocks.2.norm3.weight") == "transformer.blocks.2.norm2.weight"
    assert r("head.modulation") == "transformer.scale_shift_table"
    assert r("lq_key_frame_process.weights_FTC") == "lq_key_frame_process.weights_FTC"
    with pytest.raises(WeightsError):
        r("blocks.0.mystery.weight")


def test_convert_then_load_reproduces_official_output(tmp_path: Path) -> None:
    from vsrup.methods.stcdit.pipeline import load_model

    src, official = _official_checkpoint(tmp_path)
    written = convert_official(src, tmp_path / "stcdit-tiny", preset="test")
    assert written == tmp_path / "stcdit-tiny" / "model.safetensors"
    config = json.loads((tmp_path / "stcdit-tiny" / "config.json").read_text())
    assert config == {"preset": "test", "lora_rank": 4, "lora_alpha": 4.0}
    assert not list(tmp_path.glob("*.partial"))

    model = load_model(_base_dir(tmp_path, official), tmp_path / "stcdit-tiny", torch.float32)
    from vsrup.methods.stcdit.pipeline import _assemble

    text = torch.zeros(1, 1, 16)  # the model's own inputs below carry the context
    model = _assemble(model, _tiny_vae(), text, None, 1.0, torch.device("cpu"), torch.float32).model
    _, inputs, output = load_fixture("tiny")
    with torch.no_grad():
        ours = model(
            inputs["latents"],
            inputs["lq"],
            inputs["anchors"].tolist(),
            inputs["timestep"],
            inputs["context"],
        )
    torch.testing.assert_close(ours, output["velocity"], atol=2e-5, rtol=1e-5)


def _tiny_vae() -> torch.nn.Module:
    from diffusers import AutoencoderKLWan

    from vsrup.methods.stcdit.config import TINY_VAE

    return AutoencoderKLWan(**TINY_VAE)


def test_converter_names_missing_and_stray_keys(tmp_path: Path) -> None:
    src, _ = _official_checkpoint(tmp_path)
    state = torch.load(src, weights_only=True)
    dropped = "pipe.dit.blocks.1.lq_conv.bias"
    del state[dropped]
    torch.save(state, tmp_path / "broken.bin")
    with pytest.raises(WeightsError, match=r"1 missing .*blocks\.1\.lq_conv\.bias"):
        convert_official(tmp_path / "broken.bin", tmp_path / "out", preset="test")
    assert not (tmp_path / "out").exists()

    state = torch.load(src, weights_only=True)
    state["dit.lq_zero_proj.bias"] = state.pop("pipe.dit.lq_zero_proj.bias")
    torch.save(state, tmp_path / "noprefix.bin")
    with pytest.raises(WeightsError, match="pipe.dit."):
        convert_official(tmp_path / "noprefix.bin", tmp_path / "out", preset="test")


def test_load_model_names_missing_base_weights(tmp_path: Path) -> None:
    from vsrup.methods.stcdit.pipeline import load_model

    src, official = _official_checkpoint(tmp_path)
    convert_official(src, tmp_path / "ckpt", preset="test")
    base = _base_dir(tmp_path, official)
    from safetensors.torch import load_file, save_file

    path = base / "transformer" / "diffusion_pytorch_model.safetensors"
    state = load_file(path)
    del state["proj_out.weight"]
    save_file(state, path)
    with pytest.raises(WeightsError, match="proj_out"):
        load_model(base, tmp_path / "ckpt", torch.float32)


def test_full_manifest_maps_without_missing_or_unexpected_keys() -> None:
    """Every tensor of the real tiny_8k.bin lands on a parameter of the 1.3B model with the
    right shape, and nothing the checkpoint must provide is left out (meta device only)."""
    manifest = json.loads(MANIFEST.read_text())["tensors"]
    meta = {k: torch.empty(shape, device="meta") for k, (shape, _) in manifest.items()}
    ours = official_to_ours(meta)
    assert convert.detect(ours) == ("tiny", 128)
    expected = convert.expected_trained("tiny", 128)
    assert set(ours) == set(expected)
    assert all(ours[k].shape == expected[k].shape for k in expected)
    assert len(ours) == 795
