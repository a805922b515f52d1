"""dloral: converter and strict loader, pairing, tiling, determinism (tiny models, CPU)."""

from __future__ import annotations

import copy
import functools
import pickle
from pathlib import Path

import pytest
import torch

from tests.helpers_dloral import MANIFEST, manifest_checkpoint, official_checkpoint
from vsrup.errors import WeightsError
from vsrup.interface.method import Clip, MethodOptions
from vsrup.methods.dloral import config as C


@functools.cache
def _tiny_net_template(seed: int):  # noqa: ANN202
    from diffusers import UNet2DConditionModel

    from vsrup.methods.dloral import model as M

    torch.manual_seed(seed)
    net = M.build_net(UNet2DConditionModel(**C.UNET_TINY), cfr_mid_channels=8)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if ".lora_B." in name:
                p.normal_(0, 0.02)
    return net


def _tiny_net(seed: int = 0):  # noqa: ANN202
    """A fresh unmerged tiny net (a copy: building peft wrappers is the slow part)."""
    return copy.deepcopy(_tiny_net_template(seed))


@pytest.fixture(scope="module")
def method():  # noqa: ANN201
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import get

    return get("dloral").from_weights(None, Runtime(), MethodOptions(synthetic_weights="tiny"))


def _frames(t: int = 3, h: int = 8, w: int = 12, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(t, 3, h, w, generator=g)


# -- converter and loader --------------------------------------------------------------------


def test_official_checkpoint_round_trips_through_the_converter(tmp_path: Path) -> None:
    from vsrup.methods.dloral import model as M
    from vsrup.methods.dloral.convert import convert_official, read_converted

    net = _tiny_net()
    torch.save(official_checkpoint(net), tmp_path / "model.pkl")
    out = convert_official(tmp_path / "model.pkl", tmp_path / "dloral")
    assert out == tmp_path / "dloral" / "model.safetensors" and out.is_file()
    assert not list((tmp_path / "dloral").glob("*.partial"))
    state, ranks, targets = read_converted(out)
    assert ranks == {"quality": 4, "consistency": 4}
    assert set(targets) == set(M.ADAPTERS)
    # Every UNet tensor is kept, base weights included (the official loader reads them all).
    assert len(state) == len(net.unet.state_dict()) + len(net.cfr.state_dict())
    assert any(".base_layer." in k and "conv_in" not in k for k in state)

    fresh = _tiny_net(seed=1)
    M.load_stored_state(fresh, state, str(out))
    loaded = M.stored_state(fresh)
    for key, value in M.stored_state(net).items():
        torch.testing.assert_close(loaded[key], value, rtol=0, atol=0)


def test_full_official_key_set_is_accepted() -> None:
    """The manifest's 1718 + 148 tensors map onto a full-size net (meta device, no memory)."""
    from diffusers import UNet2DConditionModel

    from vsrup.methods.dloral import model as M
    from vsrup.methods.dloral.convert import map_official

    ckpt = manifest_checkpoint()
    state, meta = map_official(ckpt)
    assert len(state) == 1718 + 148
    import json

    with torch.device("meta"):
        net = M.build_net(
            UNet2DConditionModel(**C.UNET_FULL),
            ranks=json.loads(meta["dloral.ranks"]),
            targets=json.loads(meta["dloral.targets"]),
        )
    M.load_stored_state(net, state, "model.pkl")  # raises on any missing/unexpected/shape
    assert net.unet.conv_in.base_layer.weight.shape == (320, 8, 3, 3)
    counts = json.loads(MANIFEST.read_text())["counts"]
    base = sum(p.numel() for n, p in net.unet.named_parameters() if ".lora_" not in n)
    assert base == counts["unet_non_lora_params"]
    assert (
        sum(v.numel() for v in net.cfr.state_dict().values()) == counts["params_bpp_incl_buffers"]
    )


def test_full_synthetic_vae_is_the_sd_vae() -> None:
    """`--synthetic-weights full` uses the SD 2.x VAE config: 83,653,863 parameters."""
    from diffusers import AutoencoderKL

    from vsrup.methods.dloral.config import VAE_FULL

    with torch.device("meta"):
        vae = AutoencoderKL(**VAE_FULL)
    assert sum(p.numel() for p in vae.parameters()) == 83_653_863


def test_converter_names_missing_lora_tensor(tmp_path: Path) -> None:
    from vsrup.methods.dloral.convert import convert_official

    ckpt = official_checkpoint(_tiny_net())
    victim = next(k for k in ckpt["state_dict_unet"] if ".lora_B.default_others_consistency" in k)
    del ckpt["state_dict_unet"][victim]
    torch.save(ckpt, tmp_path / "model.pkl")
    with pytest.raises(WeightsError, match=victim.replace(".", r"\.")):
        convert_official(tmp_path / "model.pkl", tmp_path / "out")
    assert not (tmp_path / "out" / "model.safetensors").exists()


class _Evil:
    def __reduce__(self):  # noqa: ANN204
        return (print, ("executed",))


def test_converter_refuses_unsafe_pickles_and_foreign_files(tmp_path: Path) -> None:
    from vsrup.methods.dloral.convert import convert_official

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"x": _Evil()}, protocol=2))
    with pytest.raises(WeightsError, match="cannot be loaded safely"):
        convert_official(tmp_path / "evil.pkl", tmp_path / "out")
    torch.save({"state_dict": {}}, tmp_path / "other.pkl")
    with pytest.raises(WeightsError, match="not a DLoRAL model.pkl: missing"):
        convert_official(tmp_path / "other.pkl", tmp_path / "out")


def test_loader_names_unexpected_and_misshapen_keys() -> None:
    from vsrup.methods.dloral import model as M

    net = _tiny_net()
    state = M.stored_state(net)
    state["cfr.extra.weight"] = torch.zeros(1)
    state["cfr.conv_last.bias"] = torch.zeros(5)
    with pytest.raises(WeightsError) as err:
        M.load_stored_state(_tiny_net(), state, "x.safetensors")
    assert "1 unexpected (cfr.extra.weight)" in err.value.message
    assert "cfr.conv_last.bias (5,) != (4,)" in err.value.message


def test_missing_weights_is_a_clear_error(tmp_path: Path) -> None:
    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import get

    weights = WeightSet({"sd21-base": tmp_path / "sd", "dloral": tmp_path / "dl"})
    with pytest.raises(WeightsError, match=r"model\.safetensors: not found"):
        get("dloral").from_weights(weights, Runtime(), MethodOptions())
    (tmp_path / "dl").mkdir()
    torch.save(official_checkpoint(_tiny_net()), tmp_path / "model.pkl")
    from vsrup.methods.dloral.convert import convert_official

    convert_official(tmp_path / "model.pkl", tmp_path / "dl")
    with pytest.raises(WeightsError, match="cannot load the UNet2DConditionModel config"):
        get("dloral").from_weights(weights, Runtime(), MethodOptions())


# -- merged network ---------------------------------------------------------------------------


def test_merging_the_six_adapters_keeps_the_output() -> None:
    from vsrup.methods.dloral import model as M

    net = _tiny_net().eval()
    g = torch.Generator().manual_seed(3)
    zp, zc = torch.randn(1, 4, 8, 8, generator=g), torch.randn(1, 4, 8, 8, generator=g)
    ip, ic = torch.rand(1, 3, 8, 8, generator=g) * 2 - 1, torch.rand(1, 3, 8, 8, generator=g)
    emb = torch.randn(1, 5, C.UNET_TINY["cross_attention_dim"], generator=g)
    with torch.no_grad():
        before = net(zp, zc, ip, ic, emb)
        net.unet.set_adapter(["default_encoder_quality"])
        partial = net(zp, zc, ip, ic, emb)
        net.unet.set_adapter(list(M.ADAPTERS))
        M.merge_adapters(net.unet)
        after = net(zp, zc, ip, ic, emb)
    assert not any(".lora_" in k for k in net.state_dict())
    assert (partial - before).abs().max() > 1e-4  # every adapter contributes
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-5)


# -- the method -----------------------------------------------------------------------------


def test_every_frame_gets_an_output_at_x4(method) -> None:  # noqa: ANN001
    out = method.process(Clip(_frames(3, 9, 13)))
    method.flush()
    assert out.shape == (3, 3, 36, 52)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_frame_zero_is_paired_with_frame_one(method) -> None:  # noqa: ANN001
    frames = _frames(2)
    out = method.process(Clip(frames))
    method.flush()
    runner = method.runner
    p0, p1 = runner.prepare(frames[0]), runner.prepare(frames[1])
    torch.testing.assert_close(out[0], runner.run(p1, p0))
    torch.testing.assert_close(out[1], runner.run(p0, p1))


def test_clips_with_a_context_frame_equal_one_clip(method) -> None:  # noqa: ANN001
    """The previous frame of a later clip comes as context (spec.context), not from state:
    clips in any order, repeated or alone give the frames of one whole clip."""
    assert method.spec.context == 1
    frames = _frames(3)
    whole = method.process(Clip(frames))
    late = method.process(Clip(frames[1:], start=1, context=1))  # frame 2, paired with 1
    first = method.process(Clip(frames[:2]))
    assert late.shape[0] == 2  # one output per clip frame; the context one is discarded
    torch.testing.assert_close(torch.cat([first, late[1:]]), whole, rtol=0, atol=0)


def test_deterministic_for_a_seed(method) -> None:  # noqa: ANN001
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import get

    frames = _frames(1)
    options = MethodOptions(synthetic_weights="tiny", seed=7)
    first = get("dloral").from_weights(None, Runtime(), options).process(Clip(frames))
    again = get("dloral").from_weights(None, Runtime(), options).process(Clip(frames))
    other = method.process(Clip(frames))  # seed 42
    method.flush()
    torch.testing.assert_close(first, again, rtol=0, atol=0)
    assert (first - other).abs().max() > 1e-3


class _Pointwise(torch.nn.Module):
    """Stands in for the DLoRAL step: pointwise, so tiling it must change nothing."""

    def forward(self, zp, zc, ip, ic, emb):  # noqa: ANN001, ANN201
        return zc - 0.5 * zp + ic.mean(1, keepdim=True) * ip[:, :1]


def test_latent_tiles_equal_untiled_for_a_pointwise_step(method) -> None:  # noqa: ANN001
    """Latent tiles: with a pointwise stand-in for the step, the tiled x0 equals the untiled
    one, so every tile got the matching crops of both latents and both 1/8-scale images."""
    from vsrup.methods.dloral.config import Tiling
    from vsrup.methods.dloral.pipeline import Components, PairRunner

    vae = method.runner.parts.vae
    parts = Components(_Pointwise(), vae, torch.zeros(1, 1, 1), torch.float32)
    frames = _frames(2, 16, 24)
    whole = PairRunner(parts, Tiling(min_short_side=16))
    tiled = PairRunner(parts, Tiling(latent=5, latent_overlap=2, min_short_side=16))
    a, b = whole.prepare(frames[0]), whole.prepare(frames[1])
    assert a.latent.shape[-2:] == (8, 12)  # several tiles in both directions
    torch.testing.assert_close(tiled.denoise(a, b), whole.denoise(a, b), atol=1e-6, rtol=0)


def test_tiny_network_runs_tiled(method) -> None:  # noqa: ANN001
    """The real (tiny, random) network through VAE and latent tiles: complete, in range."""
    from vsrup.methods.dloral.config import Tiling
    from vsrup.methods.dloral.pipeline import PairRunner

    frames = _frames(2, 16, 24)
    tiled = PairRunner(
        method.runner.parts,
        Tiling(encoder=16, decoder=2, latent=6, latent_overlap=2, min_short_side=16),
    )  # fmt: skip
    out = tiled.run(tiled.prepare(frames[0]), tiled.prepare(frames[1]))
    assert out.shape == (3, 64, 96)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_pretrained_layout_loads_base_and_converted_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """sd21-base in diffusers layout + our converted file → the network of model.pkl: its
    base UNet weights too, not sd21-base's (which differ here), as the official loader does."""
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from vsrup.methods.dloral import model as M
    from vsrup.methods.dloral import pipeline as P
    from vsrup.methods.dloral.convert import convert_official

    torch.manual_seed(5)
    base = UNet2DConditionModel(**C.UNET_TINY)
    base.save_pretrained(tmp_path / "sd" / "unet")
    AutoencoderKL(**C.VAE_TINY).save_pretrained(tmp_path / "sd" / "vae")
    torch.manual_seed(6)
    trained = M.build_net(UNet2DConditionModel(**C.UNET_TINY), cfr_mid_channels=8)
    with torch.no_grad():
        for name, p in trained.named_parameters():
            if ".lora_B." in name or "conv_in" in name:
                p.normal_(0, 0.02)
    torch.save(official_checkpoint(trained), tmp_path / "model.pkl")
    convert_official(tmp_path / "model.pkl", tmp_path / "dl")
    embeds = torch.randn(1, 4, C.UNET_TINY["cross_attention_dim"])
    monkeypatch.setattr(P, "load_prompt_encoder", lambda base_dir, model_id: lambda _: embeds)
    parts = P.pretrained_components(
        tmp_path / "sd", tmp_path / "dl", torch.device("cpu"), torch.float32, "a prompt"
    )
    g = torch.Generator().manual_seed(0)
    zp, zc = torch.randn(1, 4, 8, 8, generator=g), torch.randn(1, 4, 8, 8, generator=g)
    ip, ic = torch.rand(1, 3, 8, 8, generator=g), torch.rand(1, 3, 8, 8, generator=g)
    with torch.no_grad():
        want = trained.eval()(zp, zc, ip, ic, embeds)
        got = parts.net(zp, zc, ip, ic, parts.prompt_embeds)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)
