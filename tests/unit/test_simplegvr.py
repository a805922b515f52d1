"""SimpleGVR on tiny configs: attention patterns against a dense masked reference, the
degenerate windows equal dense attention, temporal units cover every frame pair, the widened
T2V init ignores the condition, latent and video input paths, latent-file checks, import."""

from __future__ import annotations

import itertools

import pytest
import torch
import torch.nn.functional as F
from diffusers import WanTransformer3DModel
from safetensors.torch import save_file

from vsrup.errors import InputError, WeightsError
from vsrup.methods.simplegvr import pipeline
from vsrup.methods.simplegvr.attention import (
    AttentionPattern,
    attention_flops,
    pattern_attention,
    reference_mask,
    temporal_segments,
    unit_offset,
)
from vsrup.methods.simplegvr.config import TINY_TRANSFORMER
from vsrup.methods.simplegvr.convert import convert_ours
from vsrup.methods.simplegvr.model import widen_from_t2v

GRID = (4, 5, 7)  # odd sizes: windows need padding


def _qkv(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    length = GRID[0] * GRID[1] * GRID[2]
    return tuple(torch.randn(1, 2, length, 8, generator=g) for _ in range(3))  # type: ignore[return-value]


@pytest.mark.parametrize(
    "pattern",
    [
        AttentionPattern(temporal_unit=2),
        AttentionPattern(sparse_block=(2, 3), topk=1),
        AttentionPattern(sparse_block=(3, 3), topk=2),
        AttentionPattern(temporal_unit=3, sparse_block=(2, 2), topk=1),
    ],
)
@pytest.mark.parametrize("layer", [0, 1])
def test_patterns_match_dense_masked_reference(pattern: AttentionPattern, layer: int) -> None:
    q, k, v = _qkv()
    ours = pattern_attention(q, k, v, GRID, pattern, layer)
    mask = reference_mask(q, k, GRID, pattern, layer)
    assert mask.float().mean() < 1.0, "the pattern must actually be sparse here"
    ref = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    assert torch.allclose(ours, ref, atol=1e-5)


def test_sparse_equals_dense_when_windows_cover_everything() -> None:
    q, k, v = _qkv(1)
    dense = F.scaled_dot_product_attention(q, k, v)
    n_windows = GRID[0] * 3 * 4  # (5, 7) tokens in 2×2 windows → 3×4 per frame
    everything = AttentionPattern(sparse_block=(2, 2), topk=n_windows)
    one_window_per_frame = AttentionPattern(sparse_block=(GRID[1], GRID[2]), topk=GRID[0])
    for pattern in (everything, one_window_per_frame):
        assert torch.allclose(pattern_attention(q, k, v, GRID, pattern, 0), dense, atol=1e-5)
    whole_unit = AttentionPattern(temporal_unit=GRID[0] * 2)
    assert torch.allclose(pattern_attention(q, k, v, GRID, whole_unit, 1), dense, atol=1e-5)


@pytest.mark.parametrize("frames,unit", [(20, 5), (7, 5), (9, 4), (3, 5)])
def test_temporal_units_with_shift_cover_every_frame(frames: int, unit: int) -> None:
    layers = [temporal_segments(frames, unit, unit_offset(layer, unit)) for layer in (0, 1)]
    for segs in layers:  # each layer partitions all frames exactly once
        covered = [f for a, b in segs for f in range(a, b)]
        assert covered == list(range(frames))
    together = {
        (i, j)
        for segs in layers
        for a, b in segs
        for i, j in itertools.combinations(range(a, b), 2)
    }
    # Every pair of neighbouring frames shares a unit on one of two consecutive layers, so
    # stacking layers connects every frame with every other.
    assert all((i, i + 1) in together for i in range(frames - 1))


def test_sparse_attention_cuts_attention_flops_like_the_paper() -> None:
    grid = (20, 34, 60)  # 77 frames of 1080p-ish latents in 2×2 tokens
    dense = attention_flops(grid, 12, 128, AttentionPattern())
    sparse = attention_flops(grid, 12, 128, AttentionPattern(sparse_block=(12, 9), topk=1))
    assert sparse < 0.2 * dense  # the paper reports about −80 %


def test_widened_t2v_init_ignores_condition_until_trained() -> None:
    torch.manual_seed(0)
    t2v = WanTransformer3DModel(**{**TINY_TRANSFORMER, "in_channels": 16, "out_channels": 16})
    wide = widen_from_t2v(t2v, 16)
    noisy = torch.randn(1, 16, 2, 4, 4)
    text = torch.randn(1, 8, TINY_TRANSFORMER["text_dim"])
    t = torch.tensor([500.0])
    with torch.no_grad():
        base = t2v(noisy, t, text, return_dict=False)[0]
        a = wide(torch.cat([noisy, torch.randn_like(noisy)], 1), t, text, return_dict=False)[0]
        b = wide(torch.cat([noisy, torch.randn_like(noisy)], 1), t, text, return_dict=False)[0]
    assert torch.allclose(a, base, atol=1e-6) and torch.allclose(b, base, atol=1e-6)


@pytest.fixture(scope="module")
def parts() -> pipeline.SimpleGVRComponents:
    pattern = AttentionPattern(temporal_unit=2, sparse_block=(2, 2), topk=1)
    return pipeline.synthetic_components("tiny", torch.device("cpu"), torch.float32, 0, pattern)


def test_latent_input_path_shapes(parts) -> None:
    lr = torch.randn(1, 16, 3, 4, 6)
    hr = pipeline.upscale_latents(parts, lr, 4, 2, 0.45, torch.Generator().manual_seed(0))
    assert hr.shape == (1, 16, 3, 16, 24)
    frames = pipeline.decode_latents(parts, hr)
    assert frames.shape == (4 * (3 - 1) + 1, 3, 128, 192)


@pytest.mark.parametrize("count", [1, 2, 6])
def test_video_input_path_keeps_frame_count_and_is_seeded(parts, count: int) -> None:
    x = torch.rand(count, 3, 12, 20)
    a = pipeline.upscale_clip(parts, x, 4, 2, 0.45, torch.Generator().manual_seed(3))
    b = pipeline.upscale_clip(parts, x, 4, 2, 0.45, torch.Generator().manual_seed(3))
    assert a.shape == (count, 3, 48, 80)
    assert torch.equal(a, b)


def test_noise_augmentation_range_is_checked(parts) -> None:
    with pytest.raises(ValueError):
        pipeline.upscale_latents(
            parts, torch.randn(1, 16, 1, 2, 2), 2, 1, 1.5, torch.Generator().manual_seed(0)
        )


def test_latents_file_checks(tmp_path) -> None:
    good = tmp_path / "good.safetensors"
    save_file({"latents": torch.randn(16, 3, 4, 6)}, good, metadata={"fps": "16"})
    latents, meta = pipeline.read_latents_file(good)
    assert latents.shape == (1, 16, 3, 4, 6) and meta["fps"] == "16"
    wrong_name = tmp_path / "name.safetensors"
    save_file({"x": torch.randn(1, 16, 3, 4, 6)}, wrong_name)
    with pytest.raises(InputError, match="no tensor named 'latents'"):
        pipeline.read_latents_file(wrong_name)
    wrong_shape = tmp_path / "shape.safetensors"
    save_file({"latents": torch.randn(1, 48, 3, 4, 6)}, wrong_shape)
    with pytest.raises(InputError, match="Wan2.1 VAE"):
        pipeline.read_latents_file(wrong_shape)
    junk = tmp_path / "junk.safetensors"
    junk.write_text("not safetensors")
    with pytest.raises(InputError, match="readable"):
        pipeline.read_latents_file(junk)


def test_import_infers_config_and_rejects_wrong_keys(parts, tmp_path) -> None:
    state = parts.model.state_dict()
    src = tmp_path / "simplegvr.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, src)
    out = convert_ours(src, tmp_path / "simplegvr")
    model = pipeline.load_model(out.parent, AttentionPattern())
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())
    state.pop("upsampler.conv_out.bias")
    bad = tmp_path / "bad.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, bad)
    with pytest.raises(WeightsError, match="upsampler.conv_out.bias"):
        convert_ours(bad, tmp_path / "bad")
    assert not (tmp_path / "bad").exists()
