"""STCDiT on tiny Wan configs: anchor attention, motion-aware VAE, sampling, determinism."""

from __future__ import annotations

import pytest
import torch

from tests.helpers_stcdit import tiny_model
from vsrup.methods.stcdit.attention import anchor_rotary_emb
from vsrup.methods.stcdit.config import TINY_VAE
from vsrup.methods.stcdit.pipeline import select_anchors
from vsrup.nn.wan.flow import shifted_sigmas
from vsrup.nn.wan.vae import decode_segments, encode_segments, latent_frames, split_segments

F, H, W = 3, 2, 3  # latent grid after patching


def _inputs(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 16, F, 2 * H, 2 * W, generator=g)
    lq = torch.randn(1, 16, F, 2 * H, 2 * W, generator=g)
    return x, lq, torch.tensor([500.0]), torch.randn(1, 8, 16, generator=g)


def test_anchor_rope_continues_time_axis_with_video_grid() -> None:
    model = tiny_model()
    rope = model.transformer.rope
    cos, sin = anchor_rotary_emb(rope, F, 2, H, W)
    assert cos.shape == sin.shape == (1, (F + 2) * H * W, 1, 12)
    table = cos.view(F + 2, H, W, -1)
    t_dim = rope.t_dim
    for j in range(2):
        # Temporal part of anchor j is the position f + j; h/w parts equal a video frame's.
        expected_t = rope.freqs_cos[F + j, :t_dim].float()
        torch.testing.assert_close(table[F + j, 1, 2, :t_dim], expected_t)
        torch.testing.assert_close(table[F + j, :, :, t_dim:], table[0, :, :, t_dim:])
    assert not torch.allclose(table[F, 0, 0, :t_dim], table[F - 1, 0, 0, :t_dim])


def test_anchor_tokens_join_self_attention_but_not_cross_attention() -> None:
    model = tiny_model()
    seen: dict[str, list[tuple]] = {"attn1": [], "attn2": []}
    for block in model.transformer.blocks:
        for name in seen:
            getattr(block, name).register_forward_pre_hook(
                lambda m, args, name=name: seen[name].append(tuple(args[0].shape)) or None
            )
    x, lq, t, text = _inputs()
    with torch.no_grad():
        out = model(x, lq, [0, 2], t, text)
    assert out.shape == x.shape
    video = F * H * W
    assert seen["attn1"] == [(1, video + 2 * H * W, 24)] * 2
    assert seen["attn2"] == [(1, video, 24)] * 2


def test_changing_anchor_tokens_leaves_cross_attention_input_unchanged() -> None:
    model = tiny_model()
    block = model.transformer.blocks[0]
    captured: list[torch.Tensor] = []
    block.attn2.register_forward_pre_hook(lambda m, args: captured.append(args[0].clone()))
    with torch.no_grad():  # no self-attention residual: anchors could only leak via routing
        block.scale_shift_table[:, 2].zero_()
    _, _, t, text = _inputs()
    _, modulation = model.time_embedding(t)
    modulation = modulation.clone()
    modulation[:, 2] = 0
    context = model.transformer.condition_embedder.text_embedder(text)
    rotary = anchor_rotary_emb(model.transformer.rope, F, 1, H, W)
    video = torch.randn(1, F * H * W, 24)
    outs = []
    for seed in (1, 2):
        anchors = torch.randn(1, H * W, 24, generator=torch.Generator().manual_seed(seed))
        seq = torch.cat([video, anchors], dim=1)
        with torch.no_grad():
            outs.append(
                model.block_forward(block, seq, context, modulation, rotary, (F, H, W), [1])
            )
    assert captured[0].shape == (1, F * H * W, 24)
    torch.testing.assert_close(captured[0], captured[1], rtol=0, atol=0)
    # ...while the anchors do reach the video tokens through the anchor-conditioned FFN.
    assert not torch.allclose(outs[0][:, : F * H * W], outs[1][:, : F * H * W])


def test_anchor_frames_steer_the_output() -> None:
    model = tiny_model()
    x, lq, t, text = _inputs()
    with torch.no_grad():
        a = model(x, lq, [0], t, text)
        b = model(x, lq, [0, 2], t, text)
    assert not torch.allclose(a, b)


def test_full_size_synthetic_init_builds_in_the_compute_dtype() -> None:
    from vsrup.methods.stcdit.config import PRESETS
    from vsrup.methods.stcdit.pipeline import _random_full

    model = _random_full(PRESETS["test"], torch.device("cpu"), torch.bfloat16, seed=3)
    assert {p.dtype for p in model.parameters()} == {torch.bfloat16}
    assert model.transformer.rope.freqs_cos.dtype == torch.float32
    x, lq, t, text = _inputs()
    with torch.no_grad():
        out = model(x.bfloat16(), lq.bfloat16(), [0, 2], t.bfloat16(), text.bfloat16())
    assert out.dtype == torch.bfloat16 and torch.isfinite(out.float()).all()


def test_select_anchors_keeps_every_fourth_plus_last() -> None:
    starts = list(range(0, 20, 2))  # ten segments of two latents
    assert select_anchors(starts, 0, 21) == [0, 8, 16, 18]
    assert select_anchors(starts, 19, 2) == [0]  # no segment starts inside: first frame
    assert select_anchors([0, 3], 2, 5) == [1]


def test_split_segments_caps_length_and_covers_every_frame() -> None:
    segs = split_segments((0, 20), 23, 9)
    assert [(s.start, s.stop) for s in segs] == [(0, 7), (7, 13), (13, 20), (20, 23)]
    assert split_segments((0, 5, 99), 6, 9) == [range(0, 5), range(5, 6)]
    assert [latent_frames(n) for n in (1, 2, 4, 5, 6, 9)] == [1, 2, 2, 2, 3, 3]


def test_segment_vae_round_trip_and_independence() -> None:
    from diffusers import AutoencoderKLWan

    torch.manual_seed(0)
    vae = AutoencoderKLWan(**TINY_VAE).eval()
    video = torch.rand(1, 3, 10, 16, 16) * 2 - 1
    segments = split_segments((0, 4, 7), 10, 9)
    enc = encode_segments(vae, video, segments)
    assert enc.latent_counts == (2, 2, 2)
    assert enc.anchor_indices == [0, 2, 4]
    assert enc.latents.shape == (1, 16, 6, 2, 2)
    # Each segment is encoded on its own: the middle one alone gives the same latents.
    alone = encode_segments(vae, video, [range(4, 7)])
    torch.testing.assert_close(enc.latents[:, :, 2:4], alone.latents)
    out = decode_segments(vae, enc.latents, enc.latent_counts, enc.frame_counts)
    assert out.shape == video.shape


def test_shifted_sigmas_follow_the_official_schedule() -> None:
    s = shifted_sigmas(10, 5.0)
    base = torch.linspace(1, 0, 11, dtype=torch.float64)[:-1]
    torch.testing.assert_close(s[:-1], 5 * base / (1 + 4 * base))
    assert s[0] == 1 and s[-1] == 0 and len(s) == 11


@pytest.fixture(scope="module")
def synthetic_method():  # noqa: ANN201
    from vsrup.interface.method import MethodOptions
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import get

    def make(seed: int = 42, **kw):  # noqa: ANN003, ANN202
        options = MethodOptions(synthetic_weights="tiny", steps=2, seed=seed, **kw)
        return get("stcdit").from_weights(None, Runtime(), options)

    return make


def test_process_returns_every_frame_at_scale_and_is_deterministic(synthetic_method) -> None:  # noqa: ANN001
    from vsrup.interface.method import Clip

    frames = torch.rand(4, 3, 5, 6)  # odd sizes: padded to 16 output pixels inside
    clip = Clip(frames, 0, (0, 3))
    a = synthetic_method().process(clip)
    b = synthetic_method().process(clip)
    c = synthetic_method(seed=7).process(clip)
    assert a.shape == (4, 3, 20, 24)
    assert a.min() >= 0 and a.max() <= 1
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_large_variant_runs_with_cfg_and_channel_concat(synthetic_method) -> None:  # noqa: ANN001
    from vsrup.interface.method import Clip

    method = synthetic_method(variant="large")
    parts = method.parts
    assert parts.cfg_scale == 4.0 and parts.negative is not None
    assert parts.model.lq_concat and not hasattr(parts.model, "lq_patch_embedding")
    out = method.process(Clip(torch.rand(3, 3, 4, 4), 0, (0, 2)))
    assert out.shape == (3, 3, 16, 16) and torch.isfinite(out).all()


def test_cfg_option(synthetic_method) -> None:  # noqa: ANN001
    from vsrup.errors import UsageError

    method = synthetic_method(extra={"cfg": "2.5"})
    assert method.parts.cfg_scale == 2.5 and method.parts.negative is not None
    assert synthetic_method().parts.negative is None  # tiny: CFG 1, no negative pass
    with pytest.raises(UsageError, match="cfg"):
        synthetic_method(extra={"cfg": "lots"})


def test_latent_tiles_cover_and_blend(synthetic_method) -> None:  # noqa: ANN001
    from vsrup.methods.stcdit.pipeline import tiled_velocity

    method = synthetic_method()
    parts = method.parts
    x, lq, t, _ = _inputs()
    x, lq = x.repeat(1, 1, 3, 2, 2), lq.repeat(1, 1, 3, 2, 2)  # 9 frames, 8×12 latent
    whole = tiled_velocity(parts, x, lq, [0, 4], t)
    parts.tile_frames, parts.tile_max_hw = 5, (48, 64)  # 5 frames × 6×8 latent tiles
    tiled = tiled_velocity(parts, x, lq, [0, 4], t)
    assert tiled.shape == whole.shape and torch.isfinite(tiled).all()
    # A different but close field: tiles see less context, blending keeps it seamless.
    assert not torch.equal(tiled, whole)
    assert (tiled - whole).abs().mean() < whole.abs().mean()
