"""pipeline: temporal windows, tiles, exact output size, pts kept, bounded batches."""

from __future__ import annotations

import os
from pathlib import Path
from typing import ClassVar

import pytest
import torch

from tests.helpers_video import stream_facts, video_pts_seconds
from vsrup.engine.pipeline import UpscaleJob, native_scale, run_job, target_size
from vsrup.interface import registry
from vsrup.interface.method import Clip, Method, MethodSpec
from vsrup.util.resize import resize
from vsrup.video.synth import make_clip


class _Recorder(Method):
    """Nearest ×2 that records the clips it sees."""

    spec: ClassVar[MethodSpec] = MethodSpec(
        id="test-recorder", summary="", kind="classical", scales=(2,), window=5, alignment=4,
        size_multiple=8,
    )  # fmt: skip
    calls: ClassVar[list[tuple[int, int, tuple[int, int]]]] = []

    @classmethod
    def from_weights(cls, weights, runtime, options):  # noqa: ANN001, ANN206
        return cls()

    def process(self, clip: Clip) -> torch.Tensor:
        self.calls.append((clip.start, clip.frames.shape[0], tuple(clip.frames.shape[-2:])))
        return resize(clip.frames, clip.frames.shape[-2] * 2, clip.frames.shape[-1] * 2,
                      "nearest")  # fmt: skip


class _Tiled(_Recorder):
    spec: ClassVar[MethodSpec] = MethodSpec(
        id="test-tiled", summary="", kind="classical", scales=(2,), tile=32, tile_overlap=8
    )


@pytest.fixture
def fake_methods(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    real = registry.get
    table = {"test-recorder": _Recorder, "test-tiled": _Tiled}
    monkeypatch.setattr(registry, "get", lambda name: table.get(name) or real(name))
    _Recorder.calls = []
    yield


def test_temporal_windows_alignment_and_pts(tmp_path: Path, fake_methods) -> None:  # noqa: ANN001
    src = make_clip(tmp_path / "v.mkv", frames=12, vfr=True, width=60, height=36)
    result = run_job(UpscaleJob(src, tmp_path / "o.mkv", method="test-recorder", batch=3))
    # Windows of 4k+1 = 5 frames that together cover every frame; sizes padded to ×8.
    windows = [(s, n) for s, n, _ in _Recorder.calls]
    assert all(n == 5 for _, n in windows)
    covered = {f for s, n in windows for f in range(s, s + n) if f < 12}
    assert covered == set(range(12)) and windows[0][0] == 0
    assert all(hw == (40, 64) for _, _, hw in _Recorder.calls)
    assert result.frames == 12 and (result.width, result.height) == (120, 72)
    assert video_pts_seconds(tmp_path / "o.mkv") == video_pts_seconds(src)


def test_tiles_match_untiled_for_a_local_method(tmp_path: Path, fake_methods) -> None:  # noqa: ANN001
    src = make_clip(tmp_path / "a.mkv", frames=2, width=70, height=50, codec="ffv1",
                    pix_fmt="yuv444p")  # fmt: skip
    run_job(UpscaleJob(src, tmp_path / "t.mkv", method="test-tiled",
                       encode=_lossless()))  # fmt: skip
    run_job(UpscaleJob(src, tmp_path / "n.mkv", method="nearest", encode=_lossless()))
    from vsrup.video.reader import VideoReader

    a = next(iter(VideoReader(tmp_path / "t.mkv"))).frames
    b = next(iter(VideoReader(tmp_path / "n.mkv"))).frames
    assert a.shape == b.shape == (2, 3, 100, 140)
    assert (a - b).abs().max() < 1e-6


def _lossless():  # noqa: ANN202
    from vsrup.video.writer import EncodeSettings

    return EncodeSettings(codec="ffv1", pix_fmt="yuv444p")


def test_non_native_scale_resizes_to_the_exact_size(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=2, width=64, height=48)
    result = run_job(UpscaleJob(src, tmp_path / "o.mkv", method="lanczos", scale=1.5))
    assert (result.width, result.height) == (96, 72)
    facts = stream_facts(tmp_path / "o.mkv")
    assert (facts["width"], facts["height"]) == (96, 72)


def test_target_size_and_native_scale() -> None:
    assert target_size(64, 48, 2, None, None) == (128, 96)
    assert target_size(64, 48, None, 100, None) == (100, 76)  # derived side kept even
    assert target_size(64, 48, None, None, 90) == (120, 90)
    spec = MethodSpec(id="x", summary="", kind="learned", scales=(2, 4))
    assert native_scale(spec, 3) == 4 and native_scale(spec, 2) == 2 and native_scale(spec, 8) == 4


def test_image_sequence_in_and_out_keeps_16_bits(tmp_path: Path) -> None:
    import cv2
    import numpy as np

    frames = tmp_path / "frames"
    frames.mkdir()
    rng = np.random.default_rng(0)
    for i in (1, 2, 10):  # natural order: 1, 2, 10
        cv2.imwrite(str(frames / f"f{i}.png"), rng.integers(0, 65535, (20, 30, 3), np.uint16))
    out = tmp_path / "up" / "%04d.png"
    out.parent.mkdir()
    result = run_job(UpscaleJob(frames, out, method="nearest", scale=2))
    assert result.frames == 3
    written = sorted(out.parent.iterdir())
    assert [p.name for p in written] == ["0000.png", "0001.png", "0002.png"]
    img = cv2.imread(str(written[2]), cv2.IMREAD_UNCHANGED)
    src = cv2.imread(str(frames / "f10.png"), cv2.IMREAD_UNCHANGED)
    assert img.dtype == np.uint16 and img.shape == (40, 60, 3)
    assert np.array_equal(img[::2, ::2], src)
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_interrupt_mid_job_leaves_no_partial_file(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=6, audio_tracks=1)
    out = tmp_path / "out.mp4"

    def stop(progress) -> None:  # noqa: ANN001 - a Ctrl-C after the first batch
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_job(UpscaleJob(src, out, method="nearest", batch=2), on_progress=stop)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]


def test_memory_does_not_grow_with_length(tmp_path: Path) -> None:
    """Once streaming has settled, RSS stays flat while 200 more frames go through.

    Measured in a fresh process so heap left behind by other tests cannot blur it; the first
    100 frames are warm-up (allocator pools, encoder lookahead, thread queues)."""
    import subprocess
    import sys

    import vsrup

    src = make_clip(tmp_path / "long.mkv", frames=320, width=320, height=240)
    code = (
        "import sys, psutil\n"
        "from pathlib import Path\n"
        "from vsrup.engine.pipeline import UpscaleJob, run_job\n"
        "seen = {}\n"
        "def cb(p):\n"
        "    if p.done in (100, 300):\n"
        "        seen[p.done] = psutil.Process().memory_info().rss / 2**20\n"
        "run_job(UpscaleJob(Path(sys.argv[1]), Path(sys.argv[2]), method='nearest', batch=4),"
        " on_progress=cb)\n"
        "print(seen[100], seen[300])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(vsrup.__file__).parents[1])}
    done = subprocess.run(
        [sys.executable, "-c", code, str(src), str(tmp_path / "o.mkv")],
        capture_output=True, text=True, env=env, timeout=300, check=True,
    )  # fmt: skip
    at_100, at_300 = map(float, done.stdout.split())
    # Keeping the 200 later output frames (640x480x3 bytes each) would add about 180 MB.
    assert at_300 - at_100 < 30, (at_100, at_300)


def test_automatic_batch_divides_the_segment_length():
    from vsrup.engine.pipeline import aligned_batch

    assert aligned_batch(16, 48) == 16
    assert aligned_batch(16, 24) == 12  # no batch straddles two 24-frame segments
    assert aligned_batch(16, 7) == 7
    assert aligned_batch(5, 16) == 4
    assert aligned_batch(1, 240) == 1
