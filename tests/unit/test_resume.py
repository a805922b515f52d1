"""The resume store: keyed job dirs, self-describing segments, exact packets, ownership,
damaged state, stitching, and `quantize`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch

from vsrup.engine.resume import (
    ResumeStore,
    differences,
    input_identity,
    job_key,
    list_jobs,
    quantize,
)
from vsrup.errors import UsageError
from vsrup.video.packets import PacketFile, read_packets


@pytest.fixture
def video(tmp_path):
    p = tmp_path / "in.mp4"
    p.write_bytes(b"pretend video")
    return p


def identity(video, **over):
    base = {**input_identity(video), "method": "bicubic", "settings": {"steps": 4},
            "encode": {"codec": None}, "segment_frames": 4, "versions": {"vsrup": "0"}}  # fmt: skip
    return {**base, **over}


def encoded_packets(n, first_pts=0):
    """Packets of a real encoder (x264: B-frames, so pts ≠ dts) for n random frames."""
    import av

    cc = av.CodecContext.create("libx264", "w")
    cc.width, cc.height, cc.pix_fmt, cc.time_base = 32, 16, "yuv420p", Fraction(1, 25)
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        f = av.VideoFrame.from_ndarray(rng.integers(0, 255, (16, 32, 3), np.uint8), "rgb24")
        f = f.reformat(format="yuv420p")
        f.pts = first_pts + i
        out += cc.encode(f)
    return out + cc.encode(None)


def add_segment(store, first, count, tmp_path):
    f = PacketFile(store.temp_path(first))
    f.add(encoded_packets(count, first))
    f.close()
    return store.add(first, count, f.path, f.packets, f.bytes, [first, first + count - 1],
                     Fraction(1, 25))  # fmt: skip


def test_packets_round_trip_exactly(tmp_path):
    packets = encoded_packets(12)
    f = PacketFile(tmp_path / "p.pkt")
    f.add(packets)
    f.close()
    back = list(read_packets(tmp_path / "p.pkt", Fraction(1, 25)))
    assert [(p.pts, p.dts, p.is_keyframe, bytes(p)) for p in back] == [
        (p.pts, p.dts, p.is_keyframe, bytes(p)) for p in packets
    ]
    assert any(p.pts != p.dts for p in back)  # reordered frames: dts really is kept
    (tmp_path / "p.pkt").write_bytes((tmp_path / "p.pkt").read_bytes()[:-3])
    with pytest.raises(OSError, match="truncated"):
        list(read_packets(tmp_path / "p.pkt", Fraction(1, 25)))


def test_segments_survive_a_reopen_and_describe_themselves(tmp_path, video):
    ident = identity(video)
    store = ResumeStore.open(ident, work_root=tmp_path)
    add_segment(store, 0, 4, tmp_path)
    add_segment(store, 4, 4, tmp_path)
    with pytest.raises(ValueError, match="not on the plan"):
        add_segment(store, 3, 4, tmp_path)
    store.release()
    again = ResumeStore.open(ident, work_root=tmp_path)
    assert again.directory == store.directory and again.frames_done == 8
    assert [s.first for s in again.finished()] == [0, 4]
    sidecar = json.loads((again.directory / "seg-000000004.json").read_text())
    assert sidecar["first"] == 4 and sidecar["count"] == 4 and sidecar["method"] == "bicubic"
    assert sidecar["input"] == ident["input"] and sidecar["versions"] == {"vsrup": "0"}
    assert sidecar["settings"] == {"steps": 4} and sidecar["job"] == again.key
    muxed: list = []
    assert again.stitch(lambda pk: muxed.extend(pk)) == 8
    assert [p.pts for p in muxed if p.is_keyframe] == [0, 4]  # every segment opens a GOP
    # Boundaries depend only on the frame index.
    assert [again.segment_end(i) for i in (0, 3, 4, 9)] == [4, 4, 8, 12]


def test_a_damaged_or_unfinished_segment_is_dropped_and_the_prefix_ends_there(tmp_path, video):
    ident = identity(video)
    store = ResumeStore.open(ident, work_root=tmp_path)
    for first in (0, 4, 8):
        add_segment(store, first, 4, tmp_path)
    (store.directory / "seg-000000004.pkt").unlink()  # data gone: segment 4 is unusable
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    killed = store.directory / f"seg-000000012.pkt.{dead.pid}.tmp"
    killed.write_bytes(b"half a segment of a killed run")
    live = store.temp_path(16)  # a live worker's segment in progress: left alone
    live.write_bytes(b"a segment being written")
    store.release()
    again = ResumeStore.open(ident, work_root=tmp_path)
    assert not killed.exists() and live.exists()
    live.unlink()
    # Frames after the gap are not "done" (a rerun continues at 4), but segment 8 is kept:
    # workers may finish segments out of order.
    assert again.frames_done == 4 and [s.first for s in again.finished()] == [0, 8]
    assert sorted(f.name for f in again.directory.iterdir() if f.name.startswith("seg-")) == [
        "seg-000000000.json",
        "seg-000000000.pkt",
        "seg-000000008.json",
        "seg-000000008.pkt",
    ]


def test_key_and_differences(video):
    a = identity(video)
    assert job_key(a) == job_key(dict(reversed(list(a.items()))))
    b = identity(video, settings={"steps": 5})
    assert job_key(a) != job_key(b)
    assert differences(a, b) == ["settings.steps: 4 → 5"]
    video.write_bytes(b"another pretend video")
    assert job_key(identity(video)) != job_key(a)


def test_a_live_owner_blocks_a_second_run_and_a_dead_one_does_not(tmp_path, video):
    ident = identity(video)
    store = ResumeStore.open(ident, work_root=tmp_path)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        (store.directory / "owner").write_text(str(child.pid))
        with pytest.raises(UsageError, match=f"pid {child.pid}"):
            ResumeStore.open(ident, work_root=tmp_path)
        assert list_jobs(tmp_path)[0].owner == child.pid
    finally:
        child.kill()
        child.wait()
    assert ResumeStore.open(ident, work_root=tmp_path).directory == store.directory
    assert (store.directory / "owner").read_text() == str(os.getpid())


def test_list_jobs(tmp_path, video):
    store = ResumeStore.open(identity(video), work_root=tmp_path)
    add_segment(store, 0, 4, tmp_path)
    store.release()
    (job,) = list_jobs(tmp_path)
    assert job.key == store.key and job.frames_done == 4 and job.owner is None
    assert job.input == str(video.resolve()) and job.bytes > 0
    store.remove()
    assert list_jobs(tmp_path) == []


def test_quantize():
    x = (
        torch.tensor([0.0, 0.5 / 255, 0.499 / 255, 1.0, 1.2, -0.1])
        .view(1, 1, 1, 6)
        .expand(1, 3, 1, 6)
    )
    q8 = quantize(x, 8)
    assert q8.shape == (1, 1, 6, 3) and q8.dtype == np.uint8
    assert q8[0, 0, :, 0].tolist() == [0, 1, 0, 255, 255, 0]
    q16 = quantize(x, 10)
    assert q16.dtype == np.uint16 and q16[0, 0, 3, 0] == 65535


def test_a_segment_rendered_alone_is_byte_identical_to_a_full_runs(tmp_path, video):
    """The unit of distribution: a worker renders one planned segment with its own method
    instance and gets exactly the bytes the single-process run wrote for it."""
    from tests.helpers_engine import temporal_method
    from vsrup.engine.segments import plan_segments, render_segments, stitch, unfinished
    from vsrup.video.writer import EncodeSettings, VideoWriter

    g = torch.Generator().manual_seed(2)
    src = [(torch.rand(3, 12, 16, generator=g), 100 * i) for i in range(30)]
    target = VideoWriter(tmp_path / "final.mp4", width=32, height=24, time_base=Fraction(1, 2400),
                         fps=Fraction(24), settings=EncodeSettings(codec="h264"))  # fmt: skip
    ident = identity(video, segment_frames=8)
    full = ResumeStore.open(ident, work_root=tmp_path / "a")
    render_segments(src, temporal_method(), full, target, first=0)
    assert [s.first for s in full.finished()] == [0, 8, 16, 24]

    worker = ResumeStore.open(ident, work_root=tmp_path / "b")
    plan = plan_segments(worker, 30, temporal_method().spec)
    assert [(p.first, p.last) for p in plan] == [(0, 8), (8, 16), (16, 24), (24, 30)]
    assert plan[2].job == worker.key and plan[2].context > 0
    for seg in (plan[3], plan[1]):  # out of order, as workers finish
        method = temporal_method()
        render_segments(src, method, worker, target, first=seg.first, last=seg.last)
        name = f"seg-{seg.first:09d}.pkt"
        assert (worker.directory / name).read_bytes() == (full.directory / name).read_bytes()
        assert max(start for start, _ in method.calls) < seg.last  # stopped after its frames
    assert worker.frames_done == 0 and [p.first for p in unfinished(worker, plan)] == [0, 16]
    with pytest.raises(ValueError, match="segments missing"):
        stitch(worker, target, 30)
    assert stitch(full, target, 30) == 30
    target.close()
