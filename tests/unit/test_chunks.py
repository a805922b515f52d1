"""Temporal windows: exact frame counts, blend weights, streaming blending, segments."""

from __future__ import annotations

import pytest
import torch

from vsrup.engine.chunks import (
    StreamingBlender,
    WindowPlanner,
    effective_weights,
    pad_indices,
    plan_windows,
    planner_for_spec,
    valid_length,
)
from vsrup.interface.method import MethodSpec

AWKWARD = [1, 2, 3, 5, 7, 13, 17, 20, 21, 22, 41, 97]
CONFIGS = [
    dict(length=1),  # per-frame
    dict(length=8),  # per-frame in batches
    dict(length=2, overlap=1, exact=True),  # pairs (DLoRAL-like)
    dict(length=5, overlap=2, exact=True),
    dict(length=21, overlap=4, alignment=4),  # Wan VAE 4k+1
    dict(length=9, overlap=0, alignment=4),
    dict(length=13, overlap=8, alignment=4),  # heavy overlap: frames seen by 3 windows
]


def run(windows, frames, fn=lambda x: x * 2 + 1):
    blender = StreamingBlender()
    out = []
    for win in windows:
        got = blender.add(win, fn(frames[list(win.indices)]))
        out += got
    out += blender.finish()
    return out


@pytest.mark.parametrize("cfg", CONFIGS, ids=str)
@pytest.mark.parametrize("total", AWKWARD)
def test_every_frame_once_in_order_and_weights_sum_to_one(cfg, total):
    windows = plan_windows(total, **cfg)
    align = cfg.get("alignment", 1)
    for w in windows:
        assert w.length >= 1
        if align > 1:
            assert (w.length - 1) % align == 0
        if cfg.get("exact"):
            assert w.length == max(cfg["length"], w.end - w.start)
        assert all(0 <= i < total for i in w.indices)
    for per_frame in effective_weights(windows, total):
        assert per_frame, "a frame no window covers"
        assert sum(w for _, w in per_frame) == pytest.approx(1.0, abs=1e-12)
    frames = torch.rand(total, 3, 4, 5)
    out = run(windows, frames)
    assert [i for i, _ in out] == list(range(total))
    assert torch.allclose(torch.stack([x for _, x in out]), frames * 2 + 1, atol=1e-6)


def test_per_frame_method_chunked_equals_whole_bit_exact():
    frames = torch.rand(23, 3, 8, 8)
    whole = torch.nn.functional.interpolate(frames, scale_factor=2, mode="bicubic")
    for length in (1, 4, 7):
        out = run(
            plan_windows(23, length),
            frames,
            lambda x: torch.nn.functional.interpolate(x, scale_factor=2, mode="bicubic"),
        )
        assert torch.equal(torch.stack([x for _, x in out]), whole)


def test_constant_video_stays_constant_through_overlaps():
    frames = torch.full((30, 3, 4, 4), 0.3)
    out = run(plan_windows(30, 13, 8, 4), frames, lambda x: x)
    got = torch.stack([x for _, x in out])
    assert (got - 0.3).abs().max() < 1e-6


def test_overlap_blends_linearly_between_windows():
    # Two windows over 7 frames, overlap 3: frames 2..4 cross-fade 1/4, 2/4, 3/4.
    windows = plan_windows(7, 5, 3, exact=True)
    assert [(w.start, w.end) for w in windows] == [(0, 5), (2, 7)]
    eff = effective_weights(windows, 7)
    assert [dict(e).get(1, 0) for e in eff] == pytest.approx([0, 0, 0.25, 0.5, 0.75, 1, 1])
    # Window 0 outputs zeros, window 1 ones: the blend shows the ramp itself.
    blender = StreamingBlender()
    out = blender.add(windows[0], torch.zeros(5, 1, 1, 1))
    out += blender.add(windows[1], torch.ones(5, 1, 1, 1)) + blender.finish()
    assert [float(x) for _, x in out] == pytest.approx([0, 0, 0.25, 0.5, 0.75, 1, 1])


def test_short_video_padded_by_reflection_and_padding_never_emitted():
    (win,) = plan_windows(3, 21, 4, 4)
    assert win.length == 5 and win.indices == (0, 1, 2, 1, 0)
    assert win.weights[3:] == (0.0, 0.0)
    (one,) = plan_windows(1, 2, 1, exact=True)
    assert one.indices == (0, 0) and one.weights == (1.0, 0.0)
    assert pad_indices(2, 7) == [0, 1, 0, 1, 0, 1, 0]
    assert pad_indices(3, 5, "repeat") == [0, 1, 2, 2, 2]
    frames = torch.rand(3, 1, 2, 2)
    out = run([win], frames)
    assert len(out) == 3


def test_last_window_flush_for_temporal_and_shorter_for_per_frame():
    temporal = plan_windows(30, 21, 4, 4)
    assert [(w.start, w.end) for w in temporal] == [(0, 21), (9, 30)]
    batches = plan_windows(20, 8)
    assert [(w.start, w.end, w.length) for w in batches] == [(0, 8, 8), (8, 16, 8), (16, 20, 4)]


def test_valid_length():
    assert [valid_length(n, 4) for n in (1, 2, 5, 6, 9)] == [1, 5, 5, 9, 9]
    assert valid_length(6) == 6
    with pytest.raises(ValueError):
        WindowPlanner(20, 4, 4)
    with pytest.raises(ValueError):
        WindowPlanner(5, 5)


def test_streaming_planner_matches_batch_plan_and_blender_memory_is_bounded():
    total = 200
    planner = WindowPlanner(21, 4, 4)
    blender = StreamingBlender()
    streamed, max_parts = [], 0
    for _ in range(total):
        for win in planner.add_frames(1):
            streamed.append(win)
            blender.add(win, torch.zeros(win.length, 1, 1, 1))
            max_parts = max(max_parts, len(blender._parts))
    for win in planner.finish():
        streamed.append(win)
        blender.add(win, torch.zeros(win.length, 1, 1, 1))
    blender.finish()
    assert streamed == plan_windows(total, 21, 4, 4)
    assert max_parts <= 21  # never more than about one window waits for its blend partner


def test_segment_aware_windows_never_split_a_segment():
    segments = [(0, 9), (9, 12), (12, 21), (21, 22), (22, 31), (31, 40)]
    windows = plan_windows(40, 21, 0, segments=segments)
    assert [(w.start, w.end) for w in windows] == [(0, 21), (21, 40)]
    assert windows[0].segment_starts == (0, 9, 12)
    assert windows[1].segment_starts == (0, 1, 10)
    bounds = {s for s, _ in segments} | {40}
    for w in windows:
        assert w.start in bounds and w.end in bounds and w.length <= 21


def test_segment_aware_overlap_is_whole_segments():
    segments = [(0, 5), (5, 10), (10, 15), (15, 20), (20, 25)]
    windows = plan_windows(25, 15, 4, segments=segments)
    assert [(w.start, w.end) for w in windows] == [(0, 15), (10, 25)]
    frames = torch.rand(25, 1, 2, 2)
    out = run(windows, frames)
    assert torch.allclose(torch.stack([x for _, x in out]), frames * 2 + 1, atol=1e-6)


def test_segment_longer_than_window_is_split():
    windows = plan_windows(30, 9, 0, segments=[(0, 30)])
    assert [(w.start, w.end) for w in windows] == [(0, 9), (9, 18), (18, 27), (27, 30)]


def test_planner_for_spec():
    per_frame = MethodSpec(id="x", summary="", kind="classical", scales=(2,))
    assert planner_for_spec(per_frame, batch=4).length == 4
    wan = MethodSpec(
        id="w", summary="", kind="diffusion", scales=(4,), window=33, overlap=8, alignment=4
    )
    p = planner_for_spec(wan)
    assert (p.length, p.overlap, p.alignment, p.flush_last) == (33, 8, 4, True)
    seg = MethodSpec(
        id="s",
        summary="",
        kind="diffusion",
        scales=(4,),
        window=81,
        alignment=4,
        uses_segments=True,
    )
    assert planner_for_spec(seg).segment_aware


def test_pair_windows_end_shorter_so_no_frame_is_computed_twice():
    """DLoRAL's pairs (window 2, alignment 1) carry the previous frame between calls: a last
    window flush with the end would repeat frame 1 and blend it from a wrong pair."""
    pairs = MethodSpec(id="p", summary="", kind="diffusion", scales=(4,), window=2)
    planner = planner_for_spec(pairs)
    windows = planner.add_frames(3) + planner.finish()
    assert [(w.start, w.end, w.indices) for w in windows] == [(0, 2, (0, 1)), (2, 3, (2,))]
    assert all(w == 1.0 for win in windows for w in win.weights)


def test_blender_rejects_wrong_frame_count_and_order():
    w0, w1 = plan_windows(10, 5)
    b = StreamingBlender()
    with pytest.raises(ValueError):
        b.add(w1, torch.zeros(5, 1, 1, 1))
    with pytest.raises(ValueError):
        b.add(w0, torch.zeros(4, 1, 1, 1))
