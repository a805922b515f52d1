"""probe: exact frame counts, VFR, bit depth, rotation, tracks, truncation, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers_video import truncate
from vsrup.errors import InputError
from vsrup.video.probe import is_vfr, probe, probe_video
from vsrup.video.synth import make_clip


def test_cfr_clip_with_audio_tracks_and_subtitles(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "a.mp4", frames=10, audio_tracks=2, subtitles=True,
                     rotation=90, metadata={"title": "probe me"})  # fmt: skip
    info = probe(path)
    v = info.video
    assert v is not None
    assert (v.width, v.height, v.frames, v.bit_depth, v.vfr) == (64, 48, 10, 8, False)
    assert v.fps == 24 and v.rotation == 90 and v.missing_frames == 0
    assert [(s.type, s.language) for s in info.streams] == [
        ("audio", "eng"), ("audio", "fra"), ("subtitle", "eng")
    ]  # fmt: skip
    assert info.metadata["title"] == "probe me"
    data = info.to_dict()
    json.dumps(data)  # JSON-friendly
    assert data["video"]["colour"]["transfer"] == "unknown"


def test_vfr_and_matroska_without_frame_count(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "v.mkv", frames=14, vfr=True)
    v = probe(path).video
    assert v is not None and v.frames == 14 and v.frames_header is None and v.vfr


def test_probe_video_reads_headers_only_unless_exact(tmp_path: Path) -> None:
    import dataclasses
    from fractions import Fraction

    path = make_clip(tmp_path / "h.mp4", frames=6)
    quick = probe_video(path)
    assert (quick.width, quick.height, quick.frames, quick.frames_header) == (64, 48, None, 6)
    assert quick.rate == 24 and probe_video(path, exact=True).frames == 6
    # A file that states no rate is copied at FFmpeg's default of 25 fps.
    assert dataclasses.replace(quick, fps=None).rate == Fraction(25)
    with pytest.raises(InputError, match="no such file"):
        probe_video(tmp_path / "missing.mp4")


def test_ten_bit_hevc_depth(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "h.mkv", frames=3, codec="libx265", pix_fmt="yuv420p10le")
    v = probe(path).video
    assert v is not None and v.bit_depth == 10 and v.pix_fmt == "yuv420p10le"


def test_hdr_transfer_is_reported(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "pq.mkv", frames=2, codec="libx265", pix_fmt="yuv420p10le",
                     color_trc=16, color_primaries=9, colorspace=9)  # fmt: skip
    v = probe(path).video
    assert v is not None and v.hdr == "pq" and v.colour_names()["primaries"] == "bt2020"


def test_truncated_matroska_reports_missing_frames(tmp_path: Path) -> None:
    path = make_clip(tmp_path / "t.mkv", frames=48, width=96, height=64)
    v = probe(truncate(path, tmp_path / "cut.mkv")).video
    assert v is not None and v.frames < 48 and v.missing_frames == 48 - v.frames


def test_cfr_millisecond_rounding_is_not_vfr() -> None:
    from fractions import Fraction

    assert not is_vfr([0, 42, 83, 125, 167, 208, 250], Fraction(1, 1000))
    assert is_vfr([0, 42, 83, 188, 208], Fraction(1, 1000))


@pytest.mark.parametrize("kind", ["missing", "text", "empty", "dir"])
def test_bad_inputs_raise_one_clear_input_error(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "x.mp4"
    if kind == "text":
        path.write_text("this is not a video\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "dir":
        path.mkdir()
    with pytest.raises(InputError) as err:
        probe(path)
    assert str(path) in err.value.render()
