"""The engine loop: frame counts, order, tiles, colour fix, segments, resume after a failure."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tests.helpers_engine import (
    camera_clip,
    photo,
    poses_from_steps,
    segment_method,
    temporal_method,
    tensor_frames,
)
from vsrup.engine.scheduler import StreamOptions, run_stream
from vsrup.interface.method import Clip
from vsrup.methods.classical import Bicubic


def collect(source, method, **kw):
    out: list[tuple[np.ndarray, int]] = []
    result = run_stream(source, method, lambda f, p: out.append((f, p)), None, StreamOptions(**kw))
    return out, result


def rand_source(n, h=12, w=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [(torch.rand(3, h, w, generator=g), 100 * i) for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 7, 9, 23])
def test_every_frame_out_once_with_its_pts(n):
    src = rand_source(n, 10, 14)  # 10x14: not a multiple of 4, padded and cropped
    out, result = collect(src, temporal_method())
    assert [p for _, p in out] == [100 * i for i in range(n)]
    assert all(f.shape == (20, 28, 3) and f.dtype == np.uint8 for f, _ in out)
    assert result.frames == n


def test_per_frame_method_matches_whole_video_bit_exact_and_tiles_are_seamless():
    src = rand_source(11, 24, 32)
    whole = Bicubic(2).process(Clip(torch.stack([f for f, _ in src])))
    expected = (whole.clamp(0, 1).permute(0, 2, 3, 1) * 255 + 0.5).to(torch.uint8).numpy()
    out, _ = collect(src, Bicubic(2), batch=4)
    assert np.array_equal(np.stack([f for f, _ in out]), expected)
    # Spatial tiles of 16 px with 8 px overlap: seamless (bicubic reaches 2 px, the blend
    # margin is 2 px), so at most a rounding flip of one level.
    tiled, _ = collect(src, Bicubic(2), batch=3, tile=16, tile_overlap=8)
    diff = np.abs(np.stack([f for f, _ in tiled]).astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.001


def test_colour_fix_and_16_bit_output():
    src = rand_source(3)
    out, _ = collect(src, Bicubic(2), color_fix="adain", bits=10)
    assert out[0][0].dtype == np.uint16 and out[0][0].shape == (24, 32, 3)
    means = np.stack([f for f, _ in out]).reshape(3, -1, 3).mean(1) / 65535
    ref = torch.stack([f for f, _ in src]).mean((-2, -1)).numpy()
    assert np.allclose(means, ref, atol=0.02)


def test_segments_reach_a_segment_method():
    stay = (0.0, 0.0, 0.0, 1.0)
    steps = [stay] * 5 + [(9, 0, 0, 1)] + [stay] * 6
    frames = camera_clip(photo("astronaut"), poses_from_steps(steps), (64, 48))
    method = segment_method()
    out, result = collect(tensor_frames(frames), method)
    assert len(out) == 13
    assert [(s.start, s.end) for s in result.segmentation.segments] == [(0, 6), (6, 13)]
    assert method.segment_starts == [(0, (0, 6))]


@pytest.mark.parametrize("resume_from", [1, 13, 17, 39])
def test_resuming_at_frame_k_gives_the_remaining_frames_exactly(resume_from):
    src = rand_source(40, 8, 12, seed=3)
    reference, _ = collect(src, temporal_method())

    method = temporal_method()
    out: list = []
    notes: list[str] = []
    result = run_stream(
        src,
        method,
        lambda f, p: out.append((f, p)),
        None,
        StreamOptions(resume_from=resume_from, on_info=notes.append),
    )
    assert result.resumed_from == resume_from
    # `begin` still sees frame 0 (DLoRAL's prompt comes from it), once, before any window.
    assert len(method.begun) == 1 and torch.equal(method.begun[0], src[0][0])
    assert notes == [f"first frame mean {src[0][0].mean().item():.4f}"]
    # The sink gets only the frames after the finished ones, identical to a full run's.
    assert [p for _, p in out] == [p for _, p in reference[resume_from:]]
    assert all(np.array_equal(a, b) for (a, _), (b, _) in zip(out, reference[resume_from:]))
    # Only the windows after the finished frames were computed (plus the one overlapping).
    assert min(s for s, _ in method.calls) < resume_from <= min(s for s, _ in method.calls) + 9
    full = len(temporal_method_calls(src))
    assert len(method.calls) < full if resume_from >= 9 else len(method.calls) == full


def temporal_method_calls(src):
    m = temporal_method()
    collect(src, m)
    return m.calls


def test_sink_errors_and_decoder_errors_surface():
    def bad_sink(frame, pts):
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        run_stream(rand_source(30), Bicubic(2), bad_sink, None, StreamOptions(batch=2))

    def broken_source():
        yield from rand_source(3)
        raise ValueError("corrupt packet")

    with pytest.raises(ValueError, match="corrupt packet"):
        collect(broken_source(), Bicubic(2))


def test_memory_is_bounded_on_a_long_stream():
    """Nothing keeps old frames alive: input tensors and output arrays are released as the
    stream moves on (an early version kept every output frame for the resume store even
    without one; RSS grew by a frame per frame)."""
    import gc
    import weakref

    inputs, outputs, alive_during = [], [], []
    method = temporal_method()

    def source():
        for i in range(300):
            x = torch.rand(3, 8, 8)
            inputs.append(weakref.ref(x))
            yield x, i

    def sink(frame, pts):
        outputs.append(weakref.ref(frame))
        if pts % 50 == 49:
            gc.collect()
            alive_during.append(
                (sum(r() is not None for r in inputs), sum(r() is not None for r in outputs))
            )

    result = run_stream(source(), method, sink, None, StreamOptions(prefetch=2, encode_queue=2))
    assert result.frames == 300 and result.windows_computed == len(method.calls)
    # Window 9, overlap 4, prefetch 2, one frame in the sink: a couple of windows at most.
    assert all(i <= 25 and o <= 4 for i, o in alive_during), alive_during


def test_a_method_breaking_the_contract_gets_a_clear_error():
    from vsrup.errors import MethodError

    class Short(Bicubic):
        def process(self, clip):
            return super().process(clip)[:-1]

    class WrongScale(Bicubic):
        def process(self, clip):
            return super().process(clip)[..., :-2]

    with pytest.raises(MethodError, match="returned"):
        collect(rand_source(4), Short(2), batch=2)
    with pytest.raises(MethodError, match="expected"):
        collect(rand_source(4), WrongScale(2), batch=2)


class WholeVideoRecorder:
    """A whole-video method: records the segments it is handed and the runs it finishes;
    its output frame k is input frame k upscaled ×2 plus the run's mean (so it depends on
    which frames share a run)."""

    def __new__(cls):  # noqa: ANN204
        import torch.nn.functional as F

        from vsrup.interface.method import Method, MethodSpec

        class _Whole(Method):
            spec = MethodSpec(
                id="test-whole", summary="test", kind="diffusion", scales=(2,), window=57,
                uses_segments=True,
            )  # fmt: skip

            def __init__(self) -> None:
                self.segments: list[tuple[int, int]] = []
                self.runs: list[int] = []
                self._frames: list[torch.Tensor] = []

            @classmethod
            def from_weights(cls, weights, runtime, options):  # noqa: ANN001
                return cls()

            def process(self, clip: Clip) -> torch.Tensor:
                raise AssertionError("a whole-video run never calls process")

            def whole_video(self) -> bool:
                return True

            def add_segment(self, clip: Clip) -> None:
                self.segments.append((clip.start, clip.start + clip.frames.shape[0]))
                self._frames.append(clip.frames)

            def finish_video(self, skip_before: int = 0):  # noqa: ANN202
                x = torch.cat(self._frames)
                self._frames = []
                self.runs.append(x.shape[0])
                up = F.interpolate(x, scale_factor=2, mode="nearest")
                out = (0.8 * up + 0.2 * up.mean(0, keepdim=True)).clamp(0, 1)
                yield from out[skip_before:]

        return _Whole()


def test_whole_video_method_gets_every_segment_and_one_run():
    stay = (0.0, 0.0, 0.0, 1.0)
    steps = [stay] * 5 + [(9, 0, 0, 1)] + [stay] * 14
    frames = camera_clip(photo("astronaut"), poses_from_steps(steps), (64, 48))
    method = WholeVideoRecorder()
    out, result = collect(tensor_frames(frames), method, color_fix="adain")
    pts = [p for _, p in tensor_frames(frames)]
    assert len(out) == 21 and [p for _, p in out] == pts
    assert method.segments == [(s.start, s.end) for s in result.segmentation.segments]
    assert method.segments == [(0, 6), (6, 15), (15, 21)]
    assert method.runs == [21]


def test_scene_cuts_split_a_whole_video_run_into_shots():
    from vsrup.engine.segment import SegmentConfig

    shot1 = camera_clip(photo("astronaut"), poses_from_steps([(1, 0, 0, 1)] * 5), (64, 48))
    shot2 = camera_clip(photo("coffee"), poses_from_steps([(1, 0, 0, 1)] * 5), (64, 48))
    cfg = SegmentConfig(scene_threshold=0.3)
    method = WholeVideoRecorder()
    out, _ = collect(tensor_frames(shot1 + shot2), method, shots=True, segment_config=cfg)
    assert len(out) == 12 and method.runs == [6, 6]
    # Without --scene-cuts the same video is one run.
    single = WholeVideoRecorder()
    collect(tensor_frames(shot1 + shot2), single, segment_config=cfg)
    assert single.runs == [12]
