"""Packet timestamps: an encoder's garbage dts (libx265 on runs of 1-2 frames) is repaired before
the muxer sees it, in stitched segments and in the direct path, valid ones are kept; a segment
that starts on the previous frame's time is moved past it as a whole."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace

import av
import numpy as np
import pytest

from vsrup.video.packet_times import DecodeTimesError, PacketTimes
from vsrup.video.writer import EncodeSettings, VideoWriter

#: What libx265 left in a 2-frame run's dts on this machine (pts minus an uninitialised value).
GARBAGE = -142428511502205434
TB = Fraction(1, 1000)


def packet(pts: int | None, dts: int | None) -> SimpleNamespace:
    return SimpleNamespace(pts=pts, dts=dts)


def test_a_reordered_stream_keeps_its_dts() -> None:
    # x264/x265 with B-frames: dts two frames below pts at the start, pts out of order.
    stream = [(0, -84), (126, -42), (42, 0), (84, 42), (252, 84), (168, 126), (210, 168)]
    times = PacketTimes(TB)
    out = times.checked(packet(p, d) for p, d in stream)
    assert [(p.pts, p.dts) for p in out] == stream
    assert times.repaired == 0


def test_variable_rate_with_a_long_pause_keeps_its_dts() -> None:
    # B-frames across a 10 s pause: the first dts is 10 s below its pts, and that is right.
    stream = [(0, -10042), (10042, -10000), (42, 0), (10126, 42), (10084, 84)]
    times = PacketTimes(TB)
    assert [(p.pts, p.dts) for p in times.checked(packet(p, d) for p, d in stream)] == stream
    assert times.repaired == 0


@pytest.mark.parametrize("offset", [GARBAGE, -GARBAGE, 86_400_001])
def test_dts_outside_the_reorder_window_becomes_the_pts(offset: int) -> None:
    times = PacketTimes(TB)
    out = times.checked([packet(0, 0 - offset), packet(42, 42 - offset)])
    assert [(p.pts, p.dts) for p in out] == [(0, 0), (42, 42)]
    assert times.repaired == 2


def test_missing_or_backwards_dts_is_repaired() -> None:
    times = PacketTimes(TB)
    out = times.checked([packet(0, -42), packet(42, None), packet(84, -42), packet(None, None)])
    assert [(p.pts, p.dts) for p in out] == [(0, -42), (42, 42), (84, 84), (None, None)]
    assert times.repaired == 2


def test_a_stream_that_cannot_be_repaired_is_refused() -> None:
    times = PacketTimes(TB)
    times.check(packet(84, 84))
    with pytest.raises(DecodeTimesError, match="unusable"):
        times.check(packet(42, GARBAGE))


def test_a_segment_starting_on_the_previous_time_moves_as_a_whole() -> None:
    times = PacketTimes(TB)
    first = [(0, -84), (126, -42), (42, 0), (84, 42)]
    second = [(126, 42), (252, 84), (168, 126), (210, 168)]  # starts on 126 again
    out = list(times.segment(packet(p, d) for p, d in first))
    out += times.segment(packet(p, d) for p, d in second)
    assert [(p.pts, p.dts) for p in out[4:]] == [(p + 1, d + 1) for p, d in second]
    assert (times.moved_segments, times.most_moved, times.repaired) == (1, 1, 0)
    third = [(294, 210), (336, 252)]  # after the moved one: untouched
    assert [(p.pts, p.dts) for p in times.segment(packet(p, d) for p, d in third)] == third


def _writer(path: Path) -> VideoWriter:
    return VideoWriter(path, width=64, height=48, time_base=TB, fps=Fraction(24),
                       settings=EncodeSettings(codec="h264"))  # fmt: skip


def _segment(writer: VideoWriter, pts: list[int], spoil: bool) -> list:
    """One segment as the resume store keeps it: a fresh encoder's packets, flushed."""
    rng = np.random.default_rng(pts[0])
    arrays = rng.integers(0, 256, (len(pts), 48, 64, 3), dtype=np.uint8)
    encoder = writer.packet_encoder()
    packets = [p for f in writer.video_frames(writer.prepared(arrays, pts), pts)
               for p in encoder.encode(f)]  # fmt: skip
    packets += encoder.encode(None)
    for p in packets:
        p.time_base = writer.time_base
        if spoil:
            p.dts = p.pts + GARBAGE
    return packets


def _stored(path: Path) -> tuple[list[tuple[int, int]], list[int]]:
    """(pts, dts) of every packet in the file and the decoded frames' pts, in ms."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        ms = [(round(p.pts * s.time_base * 1000), round(p.dts * s.time_base * 1000))
              for p in c.demux(s) if p.size]  # fmt: skip
    with av.open(str(path)) as c:
        frames = [round(f.time * 1000) for f in c.decode(video=0)]
    return ms, frames


def test_stitched_segments_with_garbage_dts_make_a_valid_mp4(tmp_path: Path) -> None:
    # A long segment with B-frames, then a 2-frame last segment whose dts are garbage: the
    # muxer refused it ("pts/dts pair unsupported") after the whole video was computed.
    writer = _writer(tmp_path / "out.mp4")
    long_pts = [i * 42 for i in range(8)]
    writer.mux_packets(_segment(writer, long_pts, spoil=False))
    writer.mux_packets(_segment(writer, [336, 378], spoil=True))
    writer.close()
    assert writer.times.repaired == 2
    stored, frames = _stored(tmp_path / "out.mp4")
    assert frames == [i * 42 for i in range(10)]
    dts = [d for _, d in stored]
    assert dts == sorted(set(dts)) and all(d <= p for p, d in stored)
    assert stored[-2:] == [(336, 336), (378, 378)]


def test_the_direct_path_repairs_the_encoders_dts(tmp_path: Path) -> None:
    writer = _writer(tmp_path / "out.mp4")
    encode = writer.stream.encode
    spoilt = SimpleNamespace(encode=lambda f: [setattr(p, "dts", p.pts + GARBAGE) or p
                                               for p in encode(f)])  # fmt: skip
    writer.stream = spoilt  # every packet of the encode and of the flush spoilt
    writer.write_array(np.zeros((2, 48, 64, 3), np.uint8), [0, 42])
    writer.close()
    stored, decoded = _stored(tmp_path / "out.mp4")
    assert decoded == [0, 42] and writer.times.repaired >= 1
    assert all(d <= p for p, d in stored)


def test_b_frames_across_a_long_pause_keep_the_encoders_dts(tmp_path: Path) -> None:
    # x264 puts the first dts the whole 10 s pause below its pts: valid, and kept.
    times = [0, 42, 10042] + [10084 + 42 * i for i in range(9)]
    texture = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    frames = np.stack([np.roll(texture, i, 1) for i in range(len(times))])
    rate, h264 = Fraction(12_000, 10_420), EncodeSettings(codec="h264")
    writer = VideoWriter(tmp_path / "pause.mp4", width=64, height=48, time_base=TB, fps=rate,
                         settings=h264)  # fmt: skip
    writer.write_array(frames, times)
    writer.close()
    stored, decoded = _stored(tmp_path / "pause.mp4")
    assert decoded == times and writer.times.repaired == 0
    assert [p for p, _ in stored] != sorted(p for p, _ in stored)  # B-frames: reordered


def test_a_stream_that_cannot_be_repaired_is_one_error_naming_the_output(tmp_path: Path) -> None:
    from vsrup.errors import EncodeError

    # Real B-frame packets (a panning texture), then a P-frame's dts raised to its pts: the
    # B-frame after it, shown earlier, can have no dts that keeps the decode order valid.
    texture = np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8)
    arrays = np.stack([np.roll(texture, i, 1) for i in range(8)])
    pts = [i * 42 for i in range(8)]
    writer = _writer(tmp_path / "out.mp4")
    encoder = writer.packet_encoder()
    packets = [p for f in writer.video_frames(writer.prepared(arrays, pts), pts)
               for p in encoder.encode(f)]  # fmt: skip
    packets += encoder.encode(None)
    order = [p.pts for p in packets]
    assert order != sorted(order)  # reordered
    first_b = next(i for i, p in enumerate(packets) if p.pts < max(order[:i], default=-1))
    packets[first_b - 1].dts = packets[first_b - 1].pts
    for p in packets:
        p.time_base = writer.time_base
    with pytest.raises(EncodeError, match="decode timestamps are unusable") as err:
        writer.mux_packets(packets)
    assert "out.mp4" in str(err.value) and "\n" not in str(err.value)
    writer.abort()
