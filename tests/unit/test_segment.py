"""Motion-aware segmentation on synthetic camera motion built from real photos."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from tests.helpers_engine import camera_clip, photo, poses_from_steps
from vsrup.engine.segment import (
    MotionSegmenter,
    SegmentConfig,
    decompose_affine,
    fixed_segments,
    segment_frames,
)

STILL = (0.0, 0.0, 0.0, 1.0)
EXTENDED = SegmentConfig.extended()


def clip(steps, name="astronaut", size=(192, 144)):
    return camera_clip(photo(name), poses_from_steps(steps), size)


def cuts(result):
    return {s.start: s.reason for s in result.segments[1:]}


def assert_covers(result, n):
    assert result.frames == n
    assert result.segments[0].start == 0 and result.segments[-1].end == n
    for a, b in zip(result.segments, result.segments[1:]):
        assert a.end == b.start and len(a) >= 1
    assert len(result.motions) == n


def test_slow_pan_cuts_only_at_max_length():
    frames = clip([(1.5, 0.5, 0, 1)] * 19)
    result = segment_frames(frames)
    assert_covers(result, 20)
    assert cuts(result) == {9: "max-length", 18: "max-length"}
    ok = [m for m in result.motions[1:] if m.status == "ok"]
    assert len(ok) == 19
    # Measured motion is the camera's (the photo moves by +1.5, +0.5 in view pixels).
    assert np.median([m.dx for m in ok]) == pytest.approx(1.5, abs=0.2)
    assert np.median([m.dy for m in ok]) == pytest.approx(0.5, abs=0.2)


def test_shake_cuts_where_it_jumps_and_where_it_returns():
    steps = [STILL] * 5 + [(9, -3, 0, 1), (-9, 3, 0, 1)] + [STILL] * 5
    result = segment_frames(clip(steps))
    assert_covers(result, 13)
    assert cuts(result) == {6: "translation", 7: "translation"}
    assert result.motions[6].dx == pytest.approx(9, abs=0.5)


def test_zoom_cuts_with_reason_scale():
    steps = [STILL] * 4 + [(0, 0, 0, 1.04)] * 2 + [STILL] * 4
    result = segment_frames(clip(steps))
    assert_covers(result, 11)
    found = cuts(result)
    # Each zoom step starts a segment; the camera then holds still, so no cut at frame 7.
    assert set(found) == {5, 6}
    assert "scale" in found[5] and "scale" in found[6]
    assert result.motions[5].scale == pytest.approx(1.04, abs=0.005)
    assert abs(result.motions[7].scale - 1) < 0.01


def test_rotation_cuts_with_reason_rotation():
    steps = [STILL] * 3 + [(0, 0, 1.5, 1)] + [STILL] * 3
    # One dominant corner hides the rest at the official quality 0.3: officially nothing is
    # tracked and nothing is cut; the extended fallback (quality 0.01) sees the rotation.
    assert cuts(segment_frames(clip(steps, "chelsea"))) == {}
    result = segment_frames(clip(steps, "chelsea"), EXTENDED)
    assert_covers(result, 8)
    found = cuts(result)
    assert list(found) == [4]
    assert "rotation" in found[4]
    assert result.motions[4].rotation_deg == pytest.approx(1.5, abs=0.2)


def test_flat_frame_is_covered_and_cut_around():
    frames = clip([STILL] * 7)
    frames[4] = np.full_like(frames[4], 128)
    # Officially the frame after the flat one is not cut (nothing to track in its
    # predecessor); scene cuts are our extension.
    official = segment_frames(frames)
    assert 5 not in cuts(official) and official.motions[5].status == "flat"
    result = segment_frames(frames, EXTENDED)
    assert_covers(result, 8)
    assert cuts(result) == {4: "scene-change", 5: "scene-change"}
    assert result.motions[5].status == "flat"  # nothing to track in the flat frame


def test_scene_cut_between_two_photos():
    frames = clip([(1, 0, 0, 1)] * 5) + clip([(1, 0, 0, 1)] * 5, "coffee")
    result = segment_frames(frames, EXTENDED)
    assert_covers(result, 12)
    assert cuts(result) == {6: "scene-change"}


def test_dark_video_never_crashes_and_only_length_cuts():
    frames = [np.full((90, 120, 3), v, np.uint8) for v in [0, 1, 0, 2, 1] * 4]
    result = segment_frames(frames, SegmentConfig(max_len=7))
    assert_covers(result, 20)
    assert set(cuts(result).values()) == {"max-length"}
    assert all(m.status == "flat" for m in result.motions[1:])
    assert all(math.isnan(m.dx) for m in result.motions)


def test_tracking_lost_on_noise_cuts():
    rng = np.random.default_rng(0)
    frames = clip([STILL] * 3)
    # Two independent noise frames: same histogram, many corners, tracks are garbage.
    noise = [rng.integers(0, 256, (144, 192, 3), dtype=np.uint8) for _ in range(2)]
    result = segment_frames(frames + noise, EXTENDED)
    assert_covers(result, 6)
    found = cuts(result)
    assert set(found) == {4, 5}  # photo → noise, noise → other noise
    assert found[5] == "tracking-lost" and result.motions[5].status == "lost"


def test_streaming_push_returns_closed_segments_and_finish_closes_last():
    seg = MotionSegmenter(SegmentConfig(max_len=3))
    closed = [seg.push(f) for f in clip([STILL] * 7)]  # 8 frames
    # Length cuts are handed out one frame late: the last frame may still join them.
    assert [[c.start for c in cs] for cs in closed] == [[], [], [], [], [0], [], [], [3]]
    last = seg.finish()
    assert [(s.start, s.end, s.reason) for s in last] == [(6, 8, "max-length")]
    assert seg.finish() == []


def spans(result):
    return [(s.start, s.end) for s in result.segments]


def test_official_segment_list_at_the_end_of_the_video():
    # analyze_video_motion without cuts: 9-frame chunks, a 1-frame remainder joins the last.
    assert spans(segment_frames(clip([STILL] * 9))) == [(0, 10)]
    assert spans(segment_frames(clip([STILL] * 18))) == [(0, 9), (9, 19)]
    assert spans(segment_frames(clip([STILL] * 17))) == [(0, 9), (9, 18)]
    # After a motion cut at frame 3: a 10-frame tail stays whole, a 19-frame one is 9+9+1.
    jump = [STILL] * 2 + [(9, 0, 0, 1)]
    assert spans(segment_frames(clip(jump + [STILL] * 9))) == [(0, 3), (3, 13)]
    tail19 = spans(segment_frames(clip(jump + [STILL] * 18)))
    assert tail19 == [(0, 3), (3, 12), (12, 21), (21, 22)]
    off = SegmentConfig(official_tail=False)
    assert spans(segment_frames(clip([STILL] * 9), off)) == [(0, 9), (9, 10)]


def square_clip(shifts):
    """A black frame with one white square (4 corners), moved by `shifts` pixels in x."""
    frames, x = [], 40
    for dx in [0, *shifts]:
        x += dx
        f = np.zeros((96, 128, 3), np.uint8)
        f[30:60, x : x + 30] = 255
        frames.append(f)
    return frames


def test_three_to_five_tracked_points_are_enough_officially():
    frames = square_clip([0, 8, 0])
    official = segment_frames(frames)
    assert cuts(official) == {2: "translation"}
    assert 3 <= official.motions[2].points < 6
    # Our extended rules want 6 points: the same frame is "flat" there, not cut.
    extended = segment_frames(frames, EXTENDED)
    assert 2 not in cuts(extended) and extended.motions[2].status == "flat"


def test_single_and_empty_video():
    one = segment_frames(clip([]))
    assert [(s.start, s.end, s.reason) for s in one.segments] == [(0, 1, "start")]
    empty = segment_frames([])
    assert empty.segments == [] and empty.frames == 0


def test_downscaled_analysis_reports_original_pixels():
    image = photo("astronaut")
    steps = [STILL] * 3 + [(8, 0, 0, 1)] + [STILL] * 2
    big = clip(steps, size=(384, 288))
    cfg = SegmentConfig(analysis_max_side=192)  # analysed at half size: 4 px there
    result = segment_frames(big, cfg)
    assert cuts(result) == {4: "translation"}
    assert result.motions[4].dx == pytest.approx(8, abs=0.8)
    del image


def test_reference_height_normalises_translation_threshold():
    steps = [STILL] * 2 + [(7, 0, 0, 1)] + [STILL] * 2
    frames = clip(steps)
    assert cuts(segment_frames(frames)) == {3: "translation"}
    # 144 px frames judged as if 720p-equivalent: limit 5 * 144 / 72 = 10 px > 7 px.
    assert cuts(segment_frames(frames, SegmentConfig(reference_height=72))) == {}


def test_torch_and_float_frames_give_the_same_motion_as_uint8():
    frames = clip([(2, 1, 0, 1)] * 2)
    a = segment_frames(frames)
    tensors = [torch.from_numpy(f).permute(2, 0, 1).float() / 255 for f in frames]
    b = segment_frames(tensors)
    assert [m.dx for m in a.motions[1:]] == pytest.approx([m.dx for m in b.motions[1:]], abs=1e-3)


def test_decompose_affine_and_fixed_segments():
    a = math.radians(30)
    m = np.array([[2 * math.cos(a), -2 * math.sin(a), 3], [2 * math.sin(a), 2 * math.cos(a), -4]])
    dx, dy, rot, scale = decompose_affine(m)
    assert (dx, dy) == (3, -4) and rot == pytest.approx(30) and scale == pytest.approx(2)
    assert [(s.start, s.end) for s in fixed_segments(20, 9)] == [(0, 9), (9, 18), (18, 20)]


def test_json_has_segments_and_null_for_unknown_motion():
    frames = [np.zeros((32, 32, 3), np.uint8)] * 3
    data = segment_frames(frames).to_json(SegmentConfig())
    assert data["segments"] == [[0, 3]]
    assert data["motion"][1]["dx"] is None and data["motion"][1]["status"] == "flat"
    assert data["config"]["translation_px"] == 5.0
