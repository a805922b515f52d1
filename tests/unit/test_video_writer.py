"""writer/remux/output: exact pts, tracks kept, odd sizes, bit depth, atomic output."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers_video import assert_pts_match, stream_facts, tracks, video_pts_seconds
from vsrup.errors import OutputError, UsageError
from vsrup.video.output import AtomicOutput
from vsrup.video.reader import VideoReader
from vsrup.video.remux import encode_subtitle_text, subtitle_text
from vsrup.video.synth import make_clip
from vsrup.video.writer import EncodeSettings, VideoWriter


def _copy(src: Path, dst: Path, warn=None, **settings) -> VideoWriter:  # noqa: ANN001
    reader = VideoReader(src, batch=5)
    writer = VideoWriter(dst, width=reader.video.width, height=reader.video.height,
                         time_base=reader.time_base, fps=reader.video.fps, source=reader.video,
                         settings=EncodeSettings(**settings), copy_from=src,
                         container_metadata=reader.info.metadata, warn=warn)  # fmt: skip
    for batch in reader:
        writer.write(batch.frames, batch.pts)
    writer.close()
    return writer


@pytest.mark.parametrize("ext", [".mp4", ".mkv"])
def test_vfr_pts_and_tracks_survive_a_round_trip(tmp_path: Path, ext: str) -> None:
    src = make_clip(tmp_path / f"in{ext}", frames=12, vfr=True, audio_tracks=2, subtitles=True,
                    metadata={"title": "kept"})  # fmt: skip
    dst = tmp_path / f"out{ext}"
    _copy(src, dst)
    assert_pts_match(video_pts_seconds(src), video_pts_seconds(dst), tick=0.001)
    assert tracks(dst) == tracks(src)
    import av

    with av.open(str(dst)) as c:
        assert c.metadata.get("title") == "kept"


def test_subtitles_are_converted_when_the_container_needs_it(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mkv", frames=6, audio_tracks=1, subtitles=True)
    warnings: list[str] = []
    _copy(src, tmp_path / "out.mp4", warn=warnings.append)
    out = tracks(tmp_path / "out.mp4")
    assert [(t["codec"], t["language"]) for t in out] == [("aac", "eng"), ("mov_text", "eng")]
    assert any("subrip" in w or "srt" in w for w in warnings)


def test_audio_is_reencoded_for_webm_with_a_warning(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=6, audio_tracks=1)
    warnings: list[str] = []
    _copy(src, tmp_path / "out.webm", warn=warnings.append)
    out = tracks(tmp_path / "out.webm")
    assert out[0]["codec"] == "opus" and out[0]["language"] == "eng"
    assert abs(out[0]["duration"] - tracks(src)[0]["duration"]) < 0.05
    assert any("re-encoding" in w for w in warnings)


def test_odd_size_is_padded_to_even_for_420(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "odd.mkv", frames=3, width=95, height=63, codec="ffv1")
    warnings: list[str] = []
    _copy(src, tmp_path / "out.mp4", warn=warnings.append)
    assert stream_facts(tmp_path / "out.mp4")["width"] == 96
    assert any("padded to 96x64" in w for w in warnings)
    _copy(src, tmp_path / "out444.mkv", pix_fmt="yuv444p")
    facts = stream_facts(tmp_path / "out444.mkv")
    assert (facts["width"], facts["height"]) == (95, 63)


def test_ten_bit_stays_ten_bit(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "h.mkv", frames=3, codec="libx265", pix_fmt="yuv420p10le")
    _copy(src, tmp_path / "out.mkv", codec="hevc")
    assert stream_facts(tmp_path / "out.mkv")["pix_fmt"] == "yuv420p10le"


def test_codec_that_the_container_cannot_hold_is_a_usage_error(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=2)
    with pytest.raises(UsageError):
        _copy(src, tmp_path / "out.webm", codec="h264")
    with pytest.raises(UsageError):
        _copy(src, tmp_path / "out.mp4", codec="nosuchcodec")


def test_atomic_output_removes_the_temp_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.mp4"
    with pytest.raises(KeyboardInterrupt), AtomicOutput(target) as temp:
        temp.write_bytes(b"partial")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with AtomicOutput(target) as temp:
        temp.write_bytes(b"done")
    assert target.read_bytes() == b"done" and list(tmp_path.iterdir()) == [target]


def test_output_checks(tmp_path: Path) -> None:
    existing = tmp_path / "x.mp4"
    existing.write_bytes(b"old")
    with pytest.raises(OutputError, match="already exists"):
        AtomicOutput(existing)
    with pytest.raises(OutputError, match="same file"):
        AtomicOutput(existing, overwrite=True, inputs=(existing,))
    with pytest.raises(OutputError, match="does not exist"):
        AtomicOutput(tmp_path / "nope" / "x.mp4")
    with pytest.raises(OutputError, match="not writable"):
        AtomicOutput(Path("/proc/vsrup-test.mp4"))


def test_subtitle_text_conversions() -> None:
    assert subtitle_text(encode_subtitle_text("Hi there", "mov_text"), "mov_text") == "Hi there"
    ass = b"0,0,Default,,0,0,0,,{\\i1}Hello{\\i0}\\Nworld"
    assert subtitle_text(ass, "ass") == "Hello\nworld"


def test_writer_rejects_mismatched_frames(tmp_path: Path) -> None:
    from fractions import Fraction

    w = VideoWriter(tmp_path / "o.mkv", width=16, height=16, time_base=Fraction(1, 24),
                    fps=Fraction(24))  # fmt: skip
    with pytest.raises(ValueError):
        w.write(torch.zeros(2, 3, 16, 16), [0])
    w.abort()
