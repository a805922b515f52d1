"""Frames stay uint8/uint16 through the engine until a method needs floats; the exact-size
resize and the classical methods go through libswscale; the direct decoder → swscale →
encoder path gives ffmpeg's `scale` output."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest
import torch

from vsrup import methods
from vsrup.engine.pipeline import UpscaleJob, run_job
from vsrup.engine.scheduler import StreamOptions, run_stream
from vsrup.interface.method import Clip, Method, MethodOptions, MethodSpec
from vsrup.video.reader import VideoReader
from vsrup.video.scale import FrameScaler
from vsrup.video.synth import make_clip
from vsrup.video.writer import EncodeSettings


def _frames(n: int = 3, size: tuple[int, int] = (24, 40), dtype: type = np.uint8):
    rng = np.random.default_rng(1)
    peak = 255 if dtype == np.uint8 else 65535
    arrays = [rng.integers(0, peak + 1, (*size, 3)).astype(dtype) for _ in range(n)]
    return arrays, [(torch.from_numpy(a).permute(2, 0, 1), i) for i, a in enumerate(arrays)]


def _collect(frames, method, **options):  # noqa: ANN001, ANN202
    out: list[np.ndarray] = []
    run_stream(frames, method, lambda f, _p: out.append(f.copy()), None, StreamOptions(**options))
    return out


class _Recording(Method):
    """×2 methods that record the dtype of every clip they are given."""

    seen: ClassVar[list[torch.dtype]] = []

    @classmethod
    def from_weights(cls, weights, runtime, options):  # noqa: ANN001, ANN206
        return cls()

    @property
    def scale(self) -> int:
        return 2

    def process(self, clip: Clip) -> torch.Tensor:
        self.seen.append(clip.frames.dtype)
        return self.upscale(clip)

    def upscale(self, clip: Clip) -> torch.Tensor:
        raise NotImplementedError


class _Spy(_Recording):
    """The lanczos method itself (integer frames in, integers out)."""

    spec: ClassVar[MethodSpec] = methods.get("lanczos").spec
    seen: ClassVar[list[torch.dtype]] = []

    def upscale(self, clip: Clip) -> torch.Tensor:
        return methods.get("lanczos").from_weights(None, None, MethodOptions(scale=2)).process(clip)


class _FloatDouble(_Recording):
    """A 'learned' method: floats in, floats out (nearest ×2)."""

    spec: ClassVar[MethodSpec] = MethodSpec(id="t-float", summary="", kind="learned", scales=(2,))
    seen: ClassVar[list[torch.dtype]] = []

    def upscale(self, clip: Clip) -> torch.Tensor:
        return clip.frames.repeat_interleave(2, -2).repeat_interleave(2, -1)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_integer_frames_reach_a_classical_method_and_the_sink_unchanged(dtype: type) -> None:
    arrays, frames = _frames(dtype=dtype)
    _Spy.seen.clear()
    out = _collect(frames, _Spy(), bits=8 if dtype == np.uint8 else 16)
    assert _Spy.seen and all(d == torch.from_numpy(arrays[0]).dtype for d in _Spy.seen)
    scaler = FrameScaler("lanczos")
    for a, o in zip(arrays, out, strict=True):
        assert o.dtype == dtype
        assert np.array_equal(o, scaler.resize(a, 80, 48))


def test_learned_methods_get_floats_and_colour_fix_still_works() -> None:
    arrays, frames = _frames()
    _FloatDouble.seen.clear()
    out = _collect(frames, _FloatDouble(), color_fix="adain")
    assert _FloatDouble.seen and set(_FloatDouble.seen) == {torch.float32}
    assert out[0].dtype == np.uint8 and out[0].shape == (48, 80, 3)
    plain = _collect(_frames()[1], _FloatDouble())
    assert np.array_equal(plain[0][::2, ::2], arrays[0])  # nearest ×2, exactly
    # adain moved the statistics towards the (bicubic-resized) input's, keeping the mean.
    assert not np.array_equal(out[0], plain[0])
    assert abs(out[0].mean() - arrays[0].mean()) < 1.0


@pytest.mark.parametrize("method", ["spy", "float"])
def test_exact_size_resize_is_swscale_lanczos_on_the_cpu(method: str) -> None:
    arrays, frames = _frames()
    m = _Spy() if method == "spy" else _FloatDouble()
    out = _collect(frames, m, out_size=(30, 50))
    scaler = FrameScaler("lanczos")
    for a, o in zip(arrays, out, strict=True):
        doubled = scaler.resize(a, 80, 48) if method == "spy" else a.repeat(2, 0).repeat(2, 1)
        assert o.shape == (30, 50, 3) and o.dtype == np.uint8
        assert np.array_equal(o, scaler.resize(doubled, 50, 30))


def test_8_bit_input_to_16_bit_output_and_back_is_rescaled() -> None:
    arrays, frames = _frames(n=1)
    out16 = _collect(frames, methods.get("nearest").from_weights(None, None, MethodOptions(2)),
                     bits=16)[0]  # fmt: skip
    assert out16.dtype == np.uint16
    assert np.array_equal(out16[::2, ::2], arrays[0].astype(np.uint16) * 257)
    deep, frames16 = _frames(n=1, dtype=np.uint16)
    out8 = _collect(frames16, methods.get("nearest").from_weights(None, None, MethodOptions(2)),
                    bits=8)[0]  # fmt: skip
    assert np.array_equal(out8[::2, ::2], ((deep[0].astype(np.int64) + 128) // 257))


def test_ten_bit_video_decodes_to_uint16_frames(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "h.mkv", frames=2, codec="ffv1", pix_fmt="yuv420p10le")
    frames = list(VideoReader(path).integer_frames())
    assert len(frames) == 2 and frames[0][0].dtype == torch.uint16
    assert frames[0][0].shape == (3, 48, 64)


def _decode(path: Path, fmt: str) -> list[np.ndarray]:
    import av

    with av.open(str(path)) as c:
        return [f.to_ndarray(format=fmt) for f in c.decode(video=0)]


def _graph_scale_yuv(path: Path, width: int, height: int) -> list[np.ndarray]:
    """ffmpeg's own `scale=W:H:flags=lanczos` filter (libavfilter, through PyAV) on the
    decoded frames, in their pixel format."""
    import av
    import av.filter

    out = []
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        graph = av.filter.Graph()
        src = graph.add_buffer(template=stream)
        scale = graph.add("scale", f"{width}:{height}:flags=lanczos")
        sink = graph.add("buffersink")
        src.link_to(scale)
        scale.link_to(sink)
        graph.configure()
        for frame in c.decode(stream):
            graph.push(frame)
            out.append(graph.pull().to_ndarray(format="yuv444p"))
    return out


def test_direct_path_equals_ffmpegs_scale_filter(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", width=64, height=48, frames=3, pix_fmt="yuv444p")
    out = tmp_path / "out.mkv"
    from vsrup.video.writer import EncodeSettings

    job = UpscaleJob(src, out, method="lanczos", scale=2, encode=EncodeSettings(codec="ffv1"))
    result = run_job(job)
    assert result.timings.keys() >= {"method", "encode"} and "blend" not in result.timings
    ours = _decode(out, "yuv444p")  # FFV1 is lossless: these are swscale's output exactly
    ref = _graph_scale_yuv(src, 128, 96)
    assert len(ours) == len(ref) == 3
    for a, b in zip(ours, ref, strict=True):
        assert np.abs(a.astype(int) - b).max() <= 1


def test_direct_and_engine_paths_agree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import vsrup.engine.direct as direct

    src = make_clip(tmp_path / "in.mp4", width=64, height=48, frames=3)
    run_job(UpscaleJob(src, tmp_path / "direct.mp4", method="lanczos", scale=2))
    monkeypatch.setattr(direct, "eligible", lambda *a, **k: None)
    result = run_job(UpscaleJob(src, tmp_path / "engine.mp4", method="lanczos", scale=2))
    assert "blend" in result.timings  # the general loop ran
    a = np.stack(_decode(tmp_path / "direct.mp4", "rgb24")).astype(int)
    b = np.stack(_decode(tmp_path / "engine.mp4", "rgb24")).astype(int)
    # Chroma resampled before or after the RGB round trip, then x264: close, not identical.
    assert a.shape == b.shape and np.abs(a - b).mean() < 2.0


def test_direct_path_is_only_taken_when_nothing_else_is_needed(tmp_path: Path) -> None:
    from vsrup.engine.direct import eligible
    from vsrup.engine.runtime import Runtime
    from vsrup.video.writer import VideoWriter

    src = make_clip(tmp_path / "in.mp4", width=64, height=48, frames=1)
    reader = VideoReader(src)
    sink = VideoWriter(tmp_path / "o.mp4", width=128, height=96, time_base=Fraction(1, 24),
                       fps=Fraction(24), source=reader.video)  # fmt: skip
    odd = VideoWriter(tmp_path / "p.mp4", width=127, height=96, time_base=Fraction(1, 24),
                      fps=Fraction(24), source=reader.video)  # fmt: skip
    lanczos = methods.get("lanczos").from_weights(None, None, MethodOptions(scale=2))
    cpu = Runtime()
    try:
        assert eligible(lanczos, cpu, reader, sink, color_fix="none") == "lanczos"
        assert eligible(lanczos, cpu, reader, sink, color_fix="adain") is None
        assert eligible(lanczos, cpu, reader, odd, color_fix="none") is None
        assert eligible(_FloatDouble(), cpu, reader, sink, color_fix="none") is None
    finally:
        sink.abort()
        odd.abort()


def test_auto_device_runs_classical_methods_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    from vsrup.engine.pipeline import load_method

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # as on a GPU machine
    job = UpscaleJob(Path("in.mp4"), Path("out.mp4"), method="lanczos", device="auto")
    _, _, runtime = load_method(job, 2)
    assert runtime.device == "cpu"
    asked = UpscaleJob(Path("in.mp4"), Path("out.mp4"), method="lanczos", device="cuda")
    assert load_method(asked, 2)[2].device == "cuda"  # an explicit --device is honoured


def test_direct_path_writes_segments_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The direct path goes through the segment store: interrupted after two finished
    segments, a rerun resamples only the rest and gives the uninterrupted run's frames."""
    from vsrup.engine.segment_writer import SegmentWriter

    src = make_clip(tmp_path / "in.mkv", width=64, height=48, frames=7, codec="ffv1")
    plain = tmp_path / "plain.mkv"
    run_job(UpscaleJob(src, plain, method="lanczos", scale=2, checkpoint=False,
                       encode=EncodeSettings(codec="ffv1")))  # fmt: skip
    job = dict(method="lanczos", scale=2, segment_frames=2, work_dir=tmp_path / "work",
               encode=EncodeSettings(codec="ffv1"))  # fmt: skip
    original = SegmentWriter.write_frame
    written: list[int] = []

    def failing(self, frame, pts):  # noqa: ANN001, ANN202
        if len(written) == 4:
            raise KeyboardInterrupt
        written.append(pts)
        original(self, frame, pts)

    monkeypatch.setattr(SegmentWriter, "write_frame", failing)
    out = tmp_path / "out.mkv"
    with pytest.raises(KeyboardInterrupt):
        run_job(UpscaleJob(src, out, **job))
    assert not out.exists() and len(written) == 4
    written.clear()
    result = run_job(UpscaleJob(src, out, **job))
    assert "blend" not in result.timings  # still the direct path
    assert len(written) == 3 and result.frames == 7  # frames 4..6 only
    a = np.stack(_decode(out, "rgb24"))
    b = np.stack(_decode(plain, "rgb24"))
    assert a.shape == b.shape and np.array_equal(a, b)
