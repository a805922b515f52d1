"""The smaller surprises: -h, --debug anywhere, numeric options, image patterns, presets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

import vsrup
from tests.helpers_video import video_pts_seconds
from vsrup.cli.app import app, hoist_global_options
from vsrup.video.synth import make_clip

runner = CliRunner()


def vsrup_process(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(Path(vsrup.__file__).parents[1]))
    return subprocess.run([sys.executable, "-m", "vsrup", *args], capture_output=True,
                          text=True, env=env, timeout=120)  # fmt: skip


def test_dash_h_is_help() -> None:
    for args in (["-h"], ["upscale", "-h"], ["models", "-h"]):
        res = runner.invoke(app, args)
        assert res.exit_code == 0 and "--help" in res.output, args


def test_debug_after_the_command(tmp_path: Path) -> None:
    assert hoist_global_options(["upscale", "x", "--debug", "--", "--debug"]) == [
        "--debug", "upscale", "x", "--", "--debug"]  # fmt: skip
    debug = vsrup_process("upscale", str(tmp_path / "missing.mp4"), "-m", "nearest", "--debug")
    assert debug.returncode != 0 and "Traceback" in debug.stderr


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--tile", "-5"),
        ("--tile", "0"),
        ("--batch", "0"),
        ("--vram", "-1"),
        ("--steps", "0"),
        ("--width", "0"),
        ("--scale", "-2"),
        ("--crf", "-1"),
        ("--fps", "0"),
    ],  # fmt: skip
)
def test_bad_numbers_are_refused_at_parse_time(tmp_path: Path, option: str, value: str) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=1)
    res = runner.invoke(app, ["upscale", str(src), "-m", "nearest", option, value])
    assert res.exit_code == 2, res.output
    assert option in res.output and "internal error" not in res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.mp4"]


def test_printf_pattern_input_with_fps(tmp_path: Path) -> None:
    (tmp_path / "f").mkdir()
    for i in range(1, 4):
        cv2.imwrite(
            str(tmp_path / "f" / f"img_{i:04d}.png"), np.full((16, 24, 3), i * 50, np.uint8)
        )
    cv2.imwrite(str(tmp_path / "f" / "other.png"), np.zeros((16, 24, 3), np.uint8))
    out = tmp_path / "o.mkv"
    res = runner.invoke(app, ["upscale", str(tmp_path / "f" / "img_%04d.png"), "-o", str(out),
                              "-m", "nearest", "--fps", "10", "-q"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert video_pts_seconds(out) == pytest.approx([0.0, 0.1, 0.2], abs=1e-3)


def test_fps_on_a_video_is_refused(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=1)
    res = runner.invoke(app, ["upscale", str(src), "-m", "nearest", "--fps", "10"])
    assert res.exit_code == 2 and "--fps" in res.output


def test_alpha_is_warned_about(tmp_path: Path) -> None:
    rgba = np.zeros((16, 24, 4), np.uint8)
    rgba[..., 3] = 128
    cv2.imwrite(str(tmp_path / "logo.png"), rgba)
    res = runner.invoke(app, ["upscale", str(tmp_path / "logo.png"), "-m", "nearest"])
    assert res.exit_code == 0, res.output
    assert "alpha channel (transparency) is dropped" in res.output
    assert (tmp_path / "logo_x2.png").is_file()


def test_bad_preset_is_one_line_without_encoder_noise(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=1)
    proc = vsrup_process("upscale", str(src), "-o", str(tmp_path / "o.mp4"), "-m", "nearest",
                         "--preset", "bogus")  # fmt: skip
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vsrup: error:"), proc.stderr
    assert "veryslow" in lines[0] and "x264 [error]" not in proc.stderr
    res = runner.invoke(app, ["upscale", str(src), "-o", str(tmp_path / "o.mkv"), "-m",
                              "nearest", "--codec", "ffv1", "--preset", "fast"])  # fmt: skip
    assert res.exit_code == 2 and "ffv1 has no presets" in res.output


def test_library_warnings_are_quiet_unless_debugging(monkeypatch: pytest.MonkeyPatch) -> None:
    import logging

    from vsrup.cli.logs import route_library_logs

    monkeypatch.delenv("DIFFUSERS_VERBOSITY", raising=False)
    monkeypatch.delenv("TRANSFORMERS_VERBOSITY", raising=False)
    route_library_logs(debug=False)
    assert os.environ["DIFFUSERS_VERBOSITY"] == os.environ["TRANSFORMERS_VERBOSITY"] == "error"
    log = logging.getLogger("diffusers")
    before = list(log.handlers)
    try:
        route_library_logs(debug=True)
        assert len(log.handlers) == len(before) + 1
    finally:
        for name in ("libav", "diffusers", "transformers"):
            logger = logging.getLogger(name)
            logger.handlers = [h for h in logger.handlers if h in before]
        import av.logging

        av.logging.set_level(None)
