"""`vsrup segment`: text, JSON and plot output on a generated clip; one clear error line."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from tests.helpers_engine import camera_clip, photo, poses_from_steps, write_video
from vsrup.cli.app import app

STILL = (0.0, 0.0, 0.0, 1.0)


def make_clip(tmp_path):
    steps = [STILL] * 4 + [(9, 0, 0, 1)] + [STILL] * 5
    frames = camera_clip(photo("astronaut"), poses_from_steps(steps))
    frames += camera_clip(photo("coffee"), poses_from_steps([STILL] * 3))
    path = tmp_path / "clip.mkv"
    write_video(path, frames)
    return path  # 11 + 4 = 15 frames; cuts at 5 (translation) and 11 (scene change)


def test_segment_text_json_and_plot(tmp_path):
    path = make_clip(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["segment", str(path), "--extended"])
    assert res.exit_code == 0, res.output
    assert "15 frames, 3 segments" in res.output
    assert "translation" in res.output and "scene-change" in res.output

    plot = tmp_path / "motion.png"
    res = runner.invoke(app, ["segment", str(path), "--extended", "--json", "--plot", str(plot)])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout[res.stdout.index("{") :])
    assert data["segments"] == [[0, 5], [5, 11], [11, 15]]
    assert [c["reason"] for c in data["cuts"]] == ["start", "translation", "scene-change"]
    assert len(data["motion"]) == 15 and data["motion"][5]["dx"] > 5

    import cv2

    img = cv2.imread(str(plot))
    assert img is not None and img.shape[0] > 300 and img.shape[1] >= 640
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 3  # curves and cut lines drawn


def test_segment_max_len_option(tmp_path):
    path = make_clip(tmp_path)
    res = CliRunner().invoke(app, ["segment", str(path), "--json", "--max-len", "3"])
    data = json.loads(res.stdout[res.stdout.index("{") :])
    # At most 3 frames; the official list may give the last segment the final frame.
    assert all(e - s <= 3 for s, e in data["segments"][:-1])
    assert data["segments"][-1][1] - data["segments"][-1][0] <= 4
    assert data["segments"][-1][1] == 15
    res = CliRunner().invoke(app, ["segment", str(path), "--json", "--frames", "3:13"])
    data = json.loads(res.stdout[res.stdout.index("{") :])
    assert data["frames"] == 10 and data["segments"] == [[0, 2], [2, 8], [8, 10]]


def test_segment_bad_input_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "not_a_video.mp4"
    bad.write_bytes(b"hello")
    res = CliRunner().invoke(app, ["segment", str(bad)])
    assert res.exit_code == 2
    assert "not_a_video.mp4" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["segment", str(tmp_path / "missing.mp4")])
    assert res.exit_code == 2 and "no such file" in res.output
