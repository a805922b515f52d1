"""Frames and sizes that used to come out wrong without a word."""

from __future__ import annotations

from pathlib import Path

import av
from typer.testing import CliRunner

from tests.helpers_video import clip_with_pts, stream_facts, video_pts_seconds
from vsrup.cli.app import app
from vsrup.video.synth import make_clip

runner = CliRunner()


def upscale(*args: object):  # noqa: ANN201
    return runner.invoke(app, ["upscale", *map(str, args), "-m", "nearest", "-q"])


def displayed_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as c:
        frame = next(c.decode(video=0))
        w, h = frame.width, frame.height
        return (h, w) if frame.rotation % 180 == 90 else (w, h)


def test_width_means_the_displayed_width_of_a_rotated_video(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "rot.mp4", frames=2, width=64, height=48, rotation=90)
    assert displayed_size(src) == (48, 64)
    out = tmp_path / "o.mp4"
    res = upscale(src, "-o", out, "--width", "96")
    assert res.exit_code == 0, res.output
    assert displayed_size(out) == (96, 128)
    assert (stream_facts(out)["width"], stream_facts(out)["height"]) == (128, 96)


def test_duplicate_timestamps_into_mp4_keep_every_frame(tmp_path: Path) -> None:
    src = clip_with_pts(tmp_path / "dup.mkv", [0, 42, 42, 83, 125])
    out = tmp_path / "dup.mp4"
    res = upscale(src, "-o", out)
    assert res.exit_code == 0, res.output
    pts = video_pts_seconds(out)
    assert len(pts) == 5 and pts == sorted(set(pts))
    assert abs(pts[2] - 0.043) < 0.0011
    assert "1 frame(s) repeated the previous frame's timestamp" in res.output


def test_file_cut_inside_its_header_is_one_line(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=6)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(src.read_bytes()[:3000])
    for cmd in (["info", str(cut)], ["upscale", str(cut), "-m", "nearest"]):
        res = runner.invoke(app, cmd)
        assert res.exit_code == 2, res.output
        assert "internal error" not in res.output and "cut.mp4: " in res.output
