"""A worker rendering a late segment decodes frame 0 and what the segment's windows read, not
the whole file up to it, and writes exactly the bytes of a run that decoded everything."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

from tests.helpers_engine import temporal_method
from vsrup.engine.resume import ResumeStore
from vsrup.engine.scheduler import StreamOptions
from vsrup.engine.segments import can_seek, first_needed, frames_from, render_segments
from vsrup.engine.temporal import TemporalConfig
from vsrup.interface.method import MethodSpec
from vsrup.video.reader import VideoReader
from vsrup.video.synth import make_clip
from vsrup.video.writer import EncodeSettings, VideoWriter

SEG = 8


def per_frame_method():
    """The temporal test method made per-frame (window 1): the temporal stage's case."""
    method = temporal_method()
    method.spec = replace(method.spec, id="test-frame", window=1, overlap=0, alignment=1)
    return method


@pytest.fixture
def decoded(monkeypatch) -> list[int]:
    """The pts of every frame any VideoReader decodes and converts (seek readers included)."""
    seen: list[int] = []
    plain = VideoReader.frames

    def counting(self):  # noqa: ANN001, ANN202
        for array, pts in plain(self):
            seen.append(pts)
            yield array, pts

    monkeypatch.setattr(VideoReader, "frames", counting)
    return seen


@pytest.mark.parametrize(
    "make,options",
    [
        (temporal_method, StreamOptions()),  # window 9, overlap 4, 4-aligned
        (temporal_method, StreamOptions(window=13)),  # --window
        (per_frame_method, StreamOptions(batch=4, temporal=TemporalConfig())),
    ],
)
def test_a_late_segment_read_from_where_it_needs_is_byte_identical(
    tmp_path, decoded, make, options
):
    clip = make_clip(tmp_path / "in.mp4", frames=48, width=32, height=24)
    target = VideoWriter(tmp_path / "o.mp4", width=64, height=48, time_base=Fraction(1, 12288),
                         fps=Fraction(24), settings=EncodeSettings(codec="h264"))  # fmt: skip
    ident = {"input": str(clip), "method": "t", "segment_frames": SEG}
    first, last = 32, 40
    stores = {}
    for how in ("all", "seek"):
        decoded.clear()
        reader = VideoReader(clip, batch=4)
        method = make()
        assert can_seek(method)
        needed = first_needed(method.spec, options, first)
        frames = reader.integer_frames() if how == "all" else frames_from(reader, needed)
        store = ResumeStore.open({**ident, "how": how}, work_root=tmp_path)
        render_segments(frames, method, store, target, first=first, last=last,
                        options=replace(options))  # fmt: skip
        stores[how] = (store, list(decoded), needed)
    (full, decoded_all, _), (seek, decoded_seek, needed) = stores["all"], stores["seek"]
    name = f"seg-{first:09d}.pkt"
    assert (seek.directory / name).read_bytes() == (full.directory / name).read_bytes()
    # Frame 0 and [needed, …): none of the frames between was decoded.
    assert 0 < needed < first
    skipped = set(sorted(decoded_all)[1:needed])
    assert decoded_seek[0] == min(decoded_all) and not skipped & set(decoded_seek)
    target.abort()


def test_methods_fed_motion_segments_or_whole_videos_read_everything() -> None:
    from tests.helpers_engine import segment_method

    method = segment_method()
    assert not can_seek(method)
    spec = MethodSpec(id="x", summary="x", kind="learned", scales=(2,), window=5, context=1)
    assert first_needed(spec, StreamOptions(), 3) == 0
    assert first_needed(spec, StreamOptions(), 40) == 40 - 5 - 1


def test_a_resampler_segment_decodes_from_its_first_frame(tmp_path, monkeypatch) -> None:
    """The direct classical path (decoder → swscale → encoder) seeks to the segment."""
    from vsrup.engine.segments import render_direct

    decoded: list[int] = []
    plain = VideoReader.av_frames

    def counting(self):  # noqa: ANN001, ANN202
        for frame in plain(self):
            decoded.append(frame.pts)
            yield frame

    monkeypatch.setattr(VideoReader, "av_frames", counting)
    clip = make_clip(tmp_path / "in.mp4", frames=40, width=32, height=24)
    target = VideoWriter(tmp_path / "o.mp4", width=64, height=48, time_base=Fraction(1, 12288),
                         fps=Fraction(24), settings=EncodeSettings(codec="h264"))  # fmt: skip
    counts, stores = {}, {}
    for how in ("all", "seek"):
        # --ignore-errors makes a reader unseekable: the engine then reads from the start.
        reader = VideoReader(clip, batch=4, ignore_errors=how == "all")
        decoded.clear()
        store = ResumeStore.open({"input": str(clip), "m": "bicubic", "segment_frames": SEG,
                                  "how": how}, work_root=tmp_path)  # fmt: skip
        render_direct(reader, target, "bicubic", store, target, first=24, last=32)
        counts[how], stores[how] = list(decoded), store
    name = "seg-000000024.pkt"
    seek, full = (stores[h].directory / name for h in ("seek", "all"))
    assert seek.read_bytes() == full.read_bytes()
    # From frame 24 on (the decode thread may read ahead), against everything up to 31.
    assert len(counts["all"]) >= 32
    assert min(counts["seek"]) == sorted(counts["all"])[24]
    target.abort()


def test_an_image_sequence_input_is_read_from_its_first_image(tmp_path) -> None:
    """A resumed run from an image sequence (no seek there) gets every frame, in order."""
    import cv2
    import numpy as np

    from vsrup.engine.segments import seekable, segment_input
    from vsrup.video.imageseq import ImageSequenceReader

    for i in range(6):
        cv2.imwrite(str(tmp_path / f"f{i:03d}.png"), np.full((24, 32, 3), 40 * i, np.uint8))
    reader = ImageSequenceReader(tmp_path / "f%03d.png", batch=2)
    assert not seekable(reader)
    frames = list(segment_input(reader, temporal_method(), StreamOptions(), first=4))
    assert [int(f[0, 0, 0]) for f, _ in frames] == [40 * i for i in range(6)]
