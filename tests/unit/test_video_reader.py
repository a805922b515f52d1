"""reader: bounded batches, exact pts, 8/10-bit, frame ranges, damaged files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers_video import truncate, video_pts_seconds
from vsrup.errors import DecodeError, UsageError
from vsrup.video.reader import FrameRange, VideoReader
from vsrup.video.synth import make_clip, make_frames


def test_batches_shapes_range_and_pts(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "a.mkv", frames=11, vfr=True, codec="ffv1", pix_fmt="yuv444p")
    reader = VideoReader(path, batch=4)
    batches = list(reader)
    assert [b.frames.shape[0] for b in batches] == [4, 4, 3]
    assert [b.index for b in batches] == [0, 4, 8]
    frames = torch.cat([b.frames for b in batches])
    assert frames.dtype == torch.float32 and frames.shape == (11, 3, 48, 64)
    assert frames.min() >= 0.0 and frames.max() <= 1.0
    pts = [float(p * reader.time_base) for b in batches for p in b.pts]
    assert pts == video_pts_seconds(path)
    # Lossless 4:4:4 source: decoded pixels are the synthetic ones up to YUV rounding.
    src = torch.from_numpy(make_frames(64, 48, 11)).permute(0, 3, 1, 2).float() / 255
    assert (frames - src).abs().mean() < 0.01


def test_ten_bit_source_keeps_more_than_eight_bits(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "h.mkv", frames=2, codec="libx265", pix_fmt="yuv420p10le")
    frames = next(iter(VideoReader(path))).frames
    levels = frames * 255
    assert (levels - levels.round()).abs().max() > 0.05  # not just 8-bit values


def test_frame_range_and_time_window(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "v.mkv", frames=14, vfr=True)
    all_pts = [p for b in VideoReader(path) for p in b.pts]
    r = VideoReader(path, batch=3, frame_range=FrameRange.parse("5:9"))
    assert r.total == 4 and [p for b in r for p in b.pts] == all_pts[5:9]
    tb = r.time_base
    r = VideoReader(path, frame_range=FrameRange.parse(None, start=0.2, duration=0.3))
    got = [p for b in r for p in b.pts]
    t0 = all_pts[0] * tb
    assert got == [p for p in all_pts if 0.2 <= float((p * tb) - t0) < 0.5]
    assert r.total == len(got)


@pytest.mark.parametrize("bad", ["x", "5:2", "-1:3", "1:2:3"])
def test_bad_frame_ranges_are_usage_errors(bad: str) -> None:
    with pytest.raises(UsageError):
        FrameRange.parse(bad)


def test_truncated_file_stops_clearly_or_continues_when_asked(tmp_path: Path) -> None:
    path = truncate(make_clip(tmp_path / "t.mkv", frames=48, width=96, height=64),
                    tmp_path / "cut.mkv")  # fmt: skip
    with pytest.raises(DecodeError) as err:
        list(VideoReader(path))
    assert "truncated" in err.value.message and "missing" in err.value.message
    warnings: list[str] = []
    reader = VideoReader(path, ignore_errors=True, on_warning=warnings.append)
    got = sum(len(b.pts) for b in reader)
    assert got == reader.total and 0 < got < 48
    assert reader.errors == 48 - got
    assert len(warnings) == 1 and f"{48 - got} frame(s)" in warnings[0]
