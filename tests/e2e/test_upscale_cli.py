"""`vsrup upscale` and `vsrup info` end to end, through CliRunner, on generated clips."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import vsrup
from tests.helpers_video import (
    assert_pts_match,
    stream_facts,
    tracks,
    truncate,
    video_pts_seconds,
    video_time_base,
)
from vsrup.cli.app import app
from vsrup.video.synth import make_clip

runner = CliRunner()


def upscale(*args: object):  # noqa: ANN201
    return runner.invoke(app, ["upscale", *map(str, args), "-q", "--preset", "ultrafast"])


def leftovers(directory: Path) -> list[str]:
    return [p.name for p in directory.iterdir() if "partial" in p.name]


def test_cfr_with_aac_keeps_frames_pts_and_audio(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", frames=24, width=64, height=48, audio_tracks=1)
    out = tmp_path / "out.mp4"
    res = upscale(src, "-o", out, "--method", "bicubic")
    assert res.exit_code == 0, res.output
    assert stream_facts(out)["width"] == 128
    tick = float(video_time_base(out))
    assert_pts_match(video_pts_seconds(src), video_pts_seconds(out), tick)
    (a_in,), (a_out,) = tracks(src), tracks(out)
    assert a_out["packets"] == a_in["packets"]
    assert abs(a_out["duration"] - a_in["duration"]) < 1e-6


def test_vfr_irregular_timestamps_are_kept(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "vfr.mkv", frames=15, vfr=True, audio_tracks=1)
    out = tmp_path / "vfr_up.mkv"
    assert upscale(src, "-o", out).exit_code == 0
    assert_pts_match(video_pts_seconds(src), video_pts_seconds(out), 0.001)


def test_odd_size_is_handled(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "odd.mkv", frames=3, width=95, height=63, codec="ffv1")
    out = tmp_path / "odd_up.mp4"
    res = upscale(src, "-o", out, "--scale", "3")
    assert res.exit_code == 0, res.output
    facts = stream_facts(out)
    assert (facts["width"], facts["height"]) == (286, 190)  # 285x189 padded to even
    assert "padded to 286x190" in res.output


def test_ten_bit_hevc_stays_ten_bit(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "h10.mkv", frames=4, codec="libx265", pix_fmt="yuv420p10le")
    out = tmp_path / "h10_up.mkv"
    assert upscale(src, "-o", out, "--codec", "hevc").exit_code == 0
    assert stream_facts(out)["pix_fmt"] == "yuv420p10le"
    assert len(video_pts_seconds(out)) == 4


def test_two_audio_tracks_and_subtitles_with_languages(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "multi.mkv", frames=12, audio_tracks=2, subtitles=True)
    out = tmp_path / "multi_up.mkv"
    assert upscale(src, "-o", out).exit_code == 0
    assert tracks(out) == tracks(src)
    assert [t["language"] for t in tracks(out)] == ["eng", "fra", "eng"]
    assert upscale(src, "-o", tmp_path / "noaudio.mkv", "--no-audio").exit_code == 0
    assert [t["type"] for t in tracks(tmp_path / "noaudio.mkv")] == ["subtitle"]


def test_single_frame(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "one.mp4", frames=1)
    out = tmp_path / "one_up.mp4"
    assert upscale(src, "-o", out).exit_code == 0
    assert len(video_pts_seconds(out)) == 1


def test_preview_range_and_default_output_name(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "clip.mkv", frames=20, audio_tracks=1)
    res = upscale(src, "--frames", "4:10", "--method", "nearest")
    assert res.exit_code == 0, res.output
    out = tmp_path / "clip_x2.mkv"
    pts = video_pts_seconds(out)
    src_pts = video_pts_seconds(src)
    assert len(pts) == 6 and pts[0] == 0.0
    assert pts == pytest.approx([t - src_pts[4] for t in src_pts[4:10]], abs=1e-3)
    assert tracks(out)[0]["duration"] == pytest.approx(6 / 24, abs=0.05)


def test_truncated_file_fails_clearly_and_leaves_nothing(tmp_path: Path) -> None:
    src = truncate(make_clip(tmp_path / "t.mkv", frames=48, width=96, height=64),
                   tmp_path / "cut.mkv")  # fmt: skip
    out = tmp_path / "cut_up.mkv"
    res = upscale(src, "-o", out)
    assert res.exit_code == 1
    assert "truncated" in res.output and "Traceback" not in res.output
    assert not out.exists() and leftovers(tmp_path) == []
    res = runner.invoke(app, ["upscale", str(src), "-o", str(out), "--ignore-errors"])
    assert res.exit_code == 0, res.output
    assert "frame(s) could not be decoded" in res.output and out.exists()


@pytest.mark.parametrize("case", ["text", "missing", "unwritable", "exists", "same"])
def test_bad_input_and_output_one_line_exit_2(tmp_path: Path, case: str) -> None:
    good = make_clip(tmp_path / "good.mp4", frames=2)
    src, out, extra = good, tmp_path / "out.mp4", []
    if case == "text":
        src = tmp_path / "notes.mp4"
        src.write_text("not a video")
    elif case == "missing":
        src = tmp_path / "missing.mp4"
    elif case == "unwritable":
        out = Path("/proc/vsrup-out.mp4")
    elif case == "exists":
        out.write_bytes(b"keep me")
    elif case == "same":
        out, extra = good, ["--overwrite"]
    res = upscale(src, "-o", out, *extra)
    assert res.exit_code == 2, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("vsrup: error:")]
    assert len(lines) == 1 and "Traceback" not in res.output
    if case == "exists":
        assert out.read_bytes() == b"keep me"
    assert leftovers(tmp_path) == []


def test_batch_folder_continues_after_a_failure(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    make_clip(folder / "a.mp4", frames=2)
    (folder / "b.mp4").write_text("broken")
    make_clip(folder / "c.mkv", frames=2)
    res = upscale(folder, "-o", tmp_path / "out")
    assert res.exit_code == 2, res.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_x2.mp4", "c_x2.mkv"]
    assert "2 done, 0 skipped, 1 failed" in res.output


def test_synthetic_weights_warn_that_output_is_noise(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "s.mp4", frames=1)
    res = upscale(src, "-o", tmp_path / "o.mp4", "--synthetic-weights", "tiny")
    assert res.exit_code == 0 and "noise" in res.output


def test_info_json(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "i.mkv", frames=5, vfr=True, audio_tracks=2, subtitles=True)
    res = runner.invoke(app, ["info", str(src), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["video"]["frames"] == 5 and data["video"]["vfr"] is True
    assert [s["language"] for s in data["streams"]] == ["eng", "fra", "eng"]
    res = runner.invoke(app, ["info", str(src)])
    assert res.exit_code == 0 and "variable" in res.output


def test_module_help_in_a_subprocess() -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(vsrup.__file__).parents[1]))
    proc = subprocess.run([sys.executable, "-m", "vsrup", "--help"], capture_output=True,
                          text=True, env=env, timeout=60)  # fmt: skip
    assert proc.returncode == 0
    assert "upscale" in proc.stdout and "info" in proc.stdout
