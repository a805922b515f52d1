"""StableVSR / DGAF-VSR building blocks: warping, flow, sampling order, guidance, weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tests.helpers_stablevsr import FIXTURES
from vsrup.errors import UsageError, WeightsError
from vsrup.nn.warp import flow_warp, latent_warp


def _smooth_image(h: int, w: int) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
    img = torch.stack([torch.sin(xx / 4) * torch.cos(yy / 5), torch.cos(xx / 6), yy / h])
    return img[None]


# -- warping ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shift", [(3.0, -2.0), (1.5, 0.25)])
def test_exact_warp_undoes_a_known_translation(shift: tuple[float, float]) -> None:
    dx, dy = shift
    img = _smooth_image(40, 48)
    n, _, h, w = img.shape
    # moved[y, x] = img[y - dy, x - dx]: built with the exact warp of a constant flow.
    moved = flow_warp(img, torch.tensor([-dx, -dy]).expand(n, h, w, 2), convention="exact")
    back = flow_warp(moved, torch.tensor([dx, dy]).expand(n, h, w, 2), convention="exact")
    inner = (slice(None), slice(None), slice(6, -6), slice(6, -6))
    err = (back - img)[inner].abs().max()
    assert err < 0.05  # two bilinear resamplings of a smooth image
    if dx == int(dx) and dy == int(dy):
        assert err < 1e-5  # integer shifts are exact away from the borders


def test_exact_warp_with_zero_flow_is_the_identity() -> None:
    img = torch.rand(2, 3, 9, 13)
    out = flow_warp(img, torch.zeros(2, 9, 13, 2), convention="exact")
    torch.testing.assert_close(out, img)


def test_official_warp_quirk_is_reproduced() -> None:
    """The official flow_warp normalises by (W−1) but samples with align_corners=False: pixel
    x+u is read at (x+u)·W/(W−1) − 0.5. A zero flow is therefore not the identity."""
    img = torch.rand(1, 3, 10, 16)
    zero = torch.zeros(1, 10, 16, 2)
    official = flow_warp(img, zero, convention="official")
    assert (official - img).abs().max() > 0.1
    ys, xs = torch.meshgrid(torch.arange(10.0), torch.arange(16.0), indexing="ij")
    equivalent = torch.stack([xs * 16 / 15 - 0.5 - xs, ys * 10 / 9 - 0.5 - ys], dim=-1)[None]
    torch.testing.assert_close(official, flow_warp(img, equivalent, convention="exact"))
    # ...and it equals grid_sample with the official normalisation, written out directly.
    grid = torch.stack([2 * xs / 15 - 1, 2 * ys / 9 - 1], dim=-1)[None]
    torch.testing.assert_close(official, F.grid_sample(img, grid, align_corners=False))


def test_latent_warp_is_nearest_up_warp_nearest_down() -> None:
    z = torch.randn(1, 4, 6, 8)
    zero = torch.zeros(1, 24, 32, 2)
    torch.testing.assert_close(latent_warp(z, zero, 4, convention="exact"), z)
    # A whole-latent-pixel shift (4 HR pixels) moves the latent by one pixel.
    shift = torch.zeros(1, 24, 32, 2)
    shift[..., 0] = 4.0
    out = latent_warp(z, shift, 4, convention="exact")
    torch.testing.assert_close(out[..., :-1], z[..., 1:])
    assert out[..., -1].abs().max() == 0  # zeros come in at the border


# -- sampling order ---------------------------------------------------------------------------
def test_bidirectional_order_and_flow_choice() -> None:
    from diffusers import DDPMScheduler

    from vsrup.methods.stablevsr.config import SCHEDULER
    from vsrup.methods.stablevsr.sampler import bidirectional_sample

    n, steps = 4, 4
    lr = torch.arange(n).float().view(n, 1, 1, 1).expand(n, 3, 2, 2).contiguous()
    fwd = [torch.full((1, 8, 8, 2), float(i)) for i in range(1, n)]  # f_i
    bwd = [torch.full((1, 8, 8, 2), 100.0 + i) for i in range(1, n)]  # b_i
    calls: list[list[tuple[int, float | None]]] = []

    def frame_of(inp: torch.Tensor) -> int:
        return int(inp[0, 4, 0, 0])

    def plain(inp: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        if not calls or len(calls[-1]) == n:
            calls.append([])
        calls[-1].append((frame_of(inp), None))
        return torch.zeros(1, 4, 2, 2)

    def guided(inp, t, x0, flow):  # noqa: ANN001, ANN202
        calls[-1].append((frame_of(inp), float(flow[0, 0, 0, 0])))
        return torch.zeros(1, 4, 2, 2)

    out = bidirectional_sample(
        lr, fwd, bwd, DDPMScheduler.from_config(SCHEDULER), steps, plain, guided
    )
    assert out.shape == (n, 4, 2, 2)
    assert len(calls) == steps
    forward_pass = [(0, None), (1, 1.0), (2, 2.0), (3, 3.0)]  # k guided by k−1 with f_k
    backward_pass = [(3, None), (2, 103.0), (1, 102.0), (0, 101.0)]  # k by k+1 with b_{k+1}
    assert calls == [forward_pass, backward_pass] * (steps // 2)


def test_single_frame_runs_unguided() -> None:
    from diffusers import DDPMScheduler

    from vsrup.methods.stablevsr.config import SCHEDULER
    from vsrup.methods.stablevsr.sampler import bidirectional_sample

    seen = []

    def plain(inp: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        seen.append(int(t))
        return torch.zeros(1, 4, 2, 2)

    def never(*args):  # noqa: ANN002, ANN202
        raise AssertionError("a single frame has no neighbour to be guided by")

    lr = torch.zeros(1, 3, 2, 2)
    bidirectional_sample(lr, [], [], DDPMScheduler.from_config(SCHEDULER), 3, plain, never)
    assert seen == [667, 334, 1]  # DDPM "leading" spacing with steps_offset 1


# -- zero-initialised guidance ----------------------------------------------------------------
def _tiny_parts():  # noqa: ANN202
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

    from vsrup.methods.stablevsr import config as configs

    torch.manual_seed(0)
    unet = UNet2DConditionModel(**configs.unet_config("tiny")).eval()
    vae = AutoencoderKL(**configs.vae_config("tiny")).eval()
    emb = torch.randn(1, configs.TINY_TOKENS, unet.config.cross_attention_dim)
    return unet, vae, DDPMScheduler.from_config(configs.SCHEDULER), emb


def _run(pipe, frames: torch.Tensor, flows) -> torch.Tensor:  # noqa: ANN001
    # One step is enough: frame 1 of the first pass is already guided.
    return pipe(frames, steps=1, generator=torch.Generator().manual_seed(3), flows=flows)


def _flows(n: int, h: int, w: int):  # noqa: ANN202
    g = torch.Generator().manual_seed(1)
    fwd = [torch.randn(1, 4 * h, 4 * w, 2, generator=g) for _ in range(n - 1)]
    bwd = [torch.randn(1, 4 * h, 4 * w, 2, generator=g) for _ in range(n - 1)]
    return fwd, bwd


def test_zero_initialised_guidance_leaves_the_base_output_unchanged() -> None:
    from vsrup.methods.dgaf.model import DGAFNet
    from vsrup.methods.dgaf.pipeline import DGAFPipeline
    from vsrup.methods.stablevsr.model import build_controlnet
    from vsrup.methods.stablevsr.pipeline import FlowGuidedPipeline, StableVSRPipeline

    class Unguided(FlowGuidedPipeline):
        def guided(self, inp, t, x0_prev, flow):  # noqa: ANN001, ANN202
            return self.plain(inp, t)

    unet, vae, sched, emb = _tiny_parts()
    frames = torch.rand(2, 3, 8, 8)
    flows = _flows(2, 8, 8)
    base = _run(Unguided(unet, vae, sched, emb, None), frames, flows)
    svsr = StableVSRPipeline(
        unet, vae, sched, emb, None, controlnet=build_controlnet(unet, "tiny").eval()
    )
    dgaf = DGAFPipeline(
        unet, vae, sched, emb, None, dgafnet=DGAFNet.from_unet(unet, conditioning_channels=4)
    )
    torch.testing.assert_close(_run(svsr, frames, flows), base, atol=0, rtol=0)
    torch.testing.assert_close(_run(dgaf, frames, flows), base, atol=1e-6, rtol=0)
    # ...and once DGAFNet's output convs are trained (non-zero), the guidance changes it.
    net = DGAFNet.from_unet(unet, conditioning_channels=4)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.startswith("dgafnet_"):
                p.normal_(0, 0.2)
    guided = DGAFPipeline(unet, vae, sched, emb, None, dgafnet=net)
    assert (_run(guided, frames, flows) - base).abs().max() > 1e-3


# -- DGAFNet weights --------------------------------------------------------------------------
def test_dgafnet_from_unet_initialisation() -> None:
    from vsrup.methods.dgaf.model import DGAFNet

    unet, *_ = _tiny_parts()
    net = DGAFNet.from_unet(unet, conditioning_channels=4)
    w = net.conv_in_condition.weight
    assert w.shape[1] == 11
    torch.testing.assert_close(w[:, :7], unet.conv_in.weight)
    torch.testing.assert_close(w[:, 7:], unet.conv_in.weight[:, :4])
    torch.testing.assert_close(net.conv_in_condition.bias, unet.conv_in.bias)
    own, src = net.state_dict(), unet.state_dict()
    copied = [k for k in own if k.split(".")[0] in ("down_blocks", "mid_block", "up_blocks")]
    assert copied and all(torch.equal(own[k], src[k]) for k in copied)
    zero = [k for k in own if k.startswith("dgafnet_")]
    assert zero and all(not own[k].any() for k in zero)
    assert not any("attn" in k or "attentions" in k for k in own)  # no attention anywhere


def test_full_configs_on_meta_match_the_checkpoint_sizes() -> None:
    """Full sizes, on the meta device only: the ×4 upscaler UNet (~472 M parameters without
    its class embedding), StableVSR's ControlNet (~0.83 GB in fp32, as published) and the
    official DGAFNet layout (12 down, 1 mid, 15 up additions)."""
    from accelerate import init_empty_weights
    from diffusers import UNet2DConditionModel

    from vsrup.methods.dgaf.model import DGAFNet
    from vsrup.methods.stablevsr import config as configs
    from vsrup.methods.stablevsr.model import build_controlnet

    with init_empty_weights():
        unet = UNet2DConditionModel(**configs.unet_config("full"))
        controlnet = build_controlnet(unet, "full")
        net = DGAFNet.from_unet(unet, conditioning_channels=4)

    def count(m: torch.nn.Module) -> float:
        return sum(p.numel() for p in m.parameters()) / 1e6

    assert 470 < count(unet) < 475
    assert 205 < count(controlnet) < 210
    assert net.conv_in_condition.in_channels == 11
    assert len(net.dgafnet_down_blocks) == 12
    assert len(net.dgafnet_up_blocks) == 15
    prefixes = {k.split(".")[0] for k in net.state_dict()}
    assert prefixes == {
        "conv_in_condition",
        "time_embedding",
        "down_blocks",
        "mid_block",
        "up_blocks",
        "dgafnet_down_blocks",
        "dgafnet_mid_block",
        "dgafnet_up_blocks",
    }


def test_convert_official_folder_round_trip(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    from vsrup.methods.dgaf.convert import convert_official
    from vsrup.methods.dgaf.method import load_imported

    src = FIXTURES / "dgaf" / "dgafnet"
    official = load_file(str(src / "diffusion_pytorch_model.safetensors"))
    out = convert_official(src, tmp_path / "dgaf")
    assert out == tmp_path / "dgaf" / "model.safetensors"
    ours = load_file(str(out))
    assert sorted(ours) == sorted(official)
    assert all(torch.equal(ours[k], official[k]) for k in official)
    config = json.loads((tmp_path / "dgaf" / "config.json").read_text())
    assert config["conditioning_channels"] == 4 and config["in_channels"] == 7
    assert list(load_imported(tmp_path / "dgaf").config.block_out_channels) == [16, 32]


def test_models_import_dgaf_weights_file() -> None:
    """`vsrup models import dgaf diffusion_pytorch_model.safetensors` (the importer's path)."""
    from vsrup.hub.importer import import_weights
    from vsrup.hub.resolve import find_installed
    from vsrup.methods.dgaf.method import load_imported

    src = FIXTURES / "dgaf" / "dgafnet" / "diffusion_pytorch_model.safetensors"
    import_weights("dgaf", src)
    root = find_installed("dgaf")
    assert root is not None and (root / "config.json").is_file()
    net = load_imported(root)
    assert net.config.norm_num_groups == 8  # from the official config.json, not inferred


def test_convert_bare_state_dict_infers_the_config(tmp_path: Path) -> None:
    from vsrup.methods.dgaf.convert import convert_official
    from vsrup.methods.dgaf.model import DGAFNet

    two = {"down_block_types": ("DownBlock2D",) * 2, "up_block_types": ("UpBlock2D",) * 2}
    net = DGAFNet(block_out_channels=(32, 64), layers_per_block=1, **two)
    torch.save(net.state_dict(), tmp_path / "dgaf.bin")
    convert_official(tmp_path / "dgaf.bin", tmp_path / "out")
    config = json.loads((tmp_path / "out" / "config.json").read_text())
    assert config["block_out_channels"] == [32, 64] and config["layers_per_block"] == 1


def test_convert_names_missing_and_unexpected_keys(tmp_path: Path) -> None:
    from safetensors.torch import load_file, save_file

    from vsrup.methods.dgaf.convert import convert_official

    src = FIXTURES / "dgaf" / "dgafnet"
    state = load_file(str(src / "diffusion_pytorch_model.safetensors"))
    state.pop("dgafnet_mid_block.weight")
    state["controlnet_extra.weight"] = torch.zeros(1)
    bad = tmp_path / "bad"
    bad.mkdir()
    save_file(state, str(bad / "diffusion_pytorch_model.safetensors"))
    (bad / "config.json").write_text((src / "config.json").read_text())
    with pytest.raises(WeightsError, match="dgafnet_mid_block.weight") as exc:
        convert_official(bad, tmp_path / "out")
    assert "controlnet_extra.weight" in str(exc.value)
    assert not (tmp_path / "out" / "model.safetensors").exists()


# -- RAFT -------------------------------------------------------------------------------------
def test_raft_keys_match_torchvision() -> None:
    from vsrup.nn.raft import RAFT

    ref = json.loads((FIXTURES / "raft" / "raft_large_keys.json").read_text())
    model = RAFT()
    state = model.state_dict()
    assert sorted(state) == sorted(ref["keys"])
    assert {k: list(v.shape) for k, v in state.items()} == ref["keys"]
    assert sum(p.numel() for p in model.parameters()) == ref["num_params"]


def test_raft_per_sample_norm_makes_batching_exact(tmp_path: Path) -> None:
    from vsrup.methods.stablevsr.flows import compute_flows
    from vsrup.nn.raft import RAFT, convert_raft, load_raft

    torch.manual_seed(0)
    model = RAFT().eval()
    with torch.no_grad():  # non-trivial BatchNorm statistics, as in trained weights
        for m in model.context_encoder.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.5)
                m.running_var.uniform_(0.5, 2.0)
    torch.save(model.state_dict(), tmp_path / "raft.pth")
    converted = convert_raft(tmp_path / "raft.pth", tmp_path / "raft-large")
    loaded = load_raft(converted)
    frames = torch.rand(2, 3, 128, 128) * 2 - 1  # RAFT's minimum size
    with torch.no_grad():
        one_by_one = compute_flows(loaded, frames, batch=1, updates=1)
        batched = compute_flows(loaded, frames, batch=2, updates=1)
        loaded.set_context_norm("running")
        running = compute_flows(loaded, frames, batch=2, updates=1)
        with pytest.raises(ValueError, match="at least 128"):
            loaded(frames[:, :, :64, :64], frames[:, :, :64, :64])
    assert all(torch.isfinite(f).all() for f in batched[0] + batched[1])
    assert len(batched[0]) == 1 and batched[0][0].shape == (1, 128, 128, 2)
    for a, b in zip(one_by_one[0] + one_by_one[1], batched[0] + batched[1], strict=True):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-4)
    assert (running[0][0] - batched[0][0]).abs().max() > 1e-4


def test_raft_large_equals_torchvisions() -> None:
    """tests/fixtures/raft/flows.safetensors: torchvision's own raft_large (tools/parity/raft.py)
    on the same random weights and bicubic ×4 frames; in train mode as the official scripts
    leave it (our default per-sample context norm, two pairs batched) and in eval mode
    (`raft_norm=running`)."""
    from safetensors import safe_open
    from safetensors.torch import load_file

    from tests.helpers_stablevsr import raft_state, state_digest
    from vsrup.methods.stablevsr.flows import upscale_for_flow
    from vsrup.nn.raft import RAFT

    path = FIXTURES / "raft" / "flows.safetensors"
    with safe_open(str(path), "pt") as fh:
        meta = fh.metadata()
    ref = load_file(str(path))
    state = raft_state()
    assert state_digest(state) == meta["raft_digest"], "RAFT's random init changed"
    model = RAFT().eval().requires_grad_(False)
    model.load_state_dict(state)
    up = upscale_for_flow(ref["lr_uint8"].permute(0, 3, 1, 2).float() / 127.5 - 1)
    image1, image2 = up[[1, 1]], up[[0, 2]]
    with torch.no_grad():
        train = model(image1, image2, int(meta["updates"]))
        model.set_context_norm("running")
        running = model(image1, image2, int(meta["updates"]))
    assert ref["flow_train"].abs().max() > 1  # the flows move pixels
    torch.testing.assert_close(train, ref["flow_train"], atol=1e-4, rtol=0)
    torch.testing.assert_close(running, ref["flow_eval"], atol=1e-4, rtol=0)
    assert (ref["flow_train"] - ref["flow_eval"]).abs().max() > 1e-3  # two different modes


def test_missing_raft_weights_is_a_clear_error(tmp_path: Path) -> None:
    from vsrup.hub.registry import WeightSet
    from vsrup.interface.runtime import Runtime
    from vsrup.methods.stablevsr.model import load_flow

    with pytest.raises(WeightsError, match="raft-large.*vsrup models (download|import) raft-large"):
        load_flow(WeightSet({}), False, Runtime(), "per_sample")
    empty = tmp_path / "raft-large"
    empty.mkdir()
    with pytest.raises(WeightsError, match="raft-large"):
        load_flow(WeightSet({"raft-large": empty}), False, Runtime(), "per_sample")


def test_snapshot_networks_load_only_with_exactly_their_keys(tmp_path: Path) -> None:
    # The official snapshot is our layout; convert.load_checked is its strict check, where
    # diffusers alone would initialise a missing weight randomly and only warn.
    from diffusers import UNet2DConditionModel
    from safetensors.torch import load_file, save_file

    from vsrup.methods.stablevsr.config import unet_config
    from vsrup.methods.stablevsr.convert import load_checked

    torch.manual_seed(0)
    UNet2DConditionModel(**unet_config("tiny")).save_pretrained(tmp_path / "unet")
    good = load_checked(UNet2DConditionModel, tmp_path / "unet", torch.float32, "stablevsr")
    weights = tmp_path / "unet" / "diffusion_pytorch_model.safetensors"
    state = load_file(weights)
    assert all(torch.equal(good.state_dict()[k], v) for k, v in state.items())
    dropped = "conv_norm_out.weight"
    state.pop(dropped)
    state["leftover.weight"] = torch.zeros(2)
    save_file(state, weights)
    with pytest.raises(WeightsError, match=f"missing.*{dropped}.*unexpected.*leftover") as err:
        load_checked(UNet2DConditionModel, tmp_path / "unet", torch.float32, "stablevsr")
    assert err.value.path == tmp_path / "unet"
    with pytest.raises(WeightsError, match="has no controlnet/ folder"):
        load_checked(UNet2DConditionModel, tmp_path / "controlnet", torch.float32, "stablevsr")


# -- methods ----------------------------------------------------------------------------------
def test_missing_base_weights_name_the_download_command() -> None:
    from vsrup.hub.registry import WeightSet
    from vsrup.interface.method import MethodOptions
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import get

    with pytest.raises(WeightsError, match="vsrup models download stablevsr"):
        get("stablevsr").from_weights(WeightSet({}), Runtime(), MethodOptions())
    with pytest.raises(WeightsError, match="vsrup models import dgaf"):
        get("dgaf").from_weights(WeightSet({}), Runtime(), MethodOptions())


def test_bad_method_option_is_a_usage_error() -> None:
    from vsrup.interface.method import MethodOptions
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import get

    opts = MethodOptions(synthetic_weights="tiny", extra={"warp": "crooked"})
    with pytest.raises(UsageError, match="warp"):
        get("stablevsr").from_weights(None, Runtime(), opts)


@pytest.mark.parametrize(("method", "frames"), [("stablevsr", 2), ("dgaf", 1)])
def test_process_returns_every_frame_at_4x(method: str, frames: int) -> None:
    from vsrup.interface.method import Clip, MethodOptions
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import get

    extra = {"scheduler": "ddim", "flow_updates": "1"}  # one RAFT refinement keeps CPU time low
    opts = MethodOptions(synthetic_weights="tiny", steps=1, extra=extra)
    m = get(method).from_weights(None, Runtime(), opts)
    x = torch.rand(frames, 3, 30, 34)  # padded to the size multiple and cropped back
    y = m.process(Clip(frames=x))
    assert y.shape == (frames, 3, 120, 136)
    assert float(y.min()) >= 0 and float(y.max()) <= 1
    if method == "dgaf":  # cheap enough to run twice: the same seed gives the same frames
        torch.testing.assert_close(m.process(Clip(frames=x)), y)
