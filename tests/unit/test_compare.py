"""Comparison videos: size, frame count, labels, wipe bands and temporal profiles."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers_bench import panning_clip, write_lossless
from vsrup.bench.compare import compare_videos
from vsrup.cli.app import app
from vsrup.errors import UsageError
from vsrup.metrics.frames import read_rgb
from vsrup.video.probe import probe_video


@pytest.fixture
def clips(tmp_path):
    hr = panning_clip(5, 32, 48, seed=1)
    lr = [cv2.resize(f, (12, 8), interpolation=cv2.INTER_AREA) for f in hr]
    return (
        write_lossless(tmp_path / "lr.mkv", lr),
        write_lossless(tmp_path / "hr.mkv", hr),
        write_lossless(tmp_path / "short.mkv", hr[:3]),
    )


def test_side_by_side_has_the_common_height_and_all_frames(tmp_path, clips) -> None:
    lr, hr, _ = clips
    out = tmp_path / "cmp.mp4"
    result = compare_videos([lr, hr], out, profile_row=10)
    info = probe_video(out)
    assert (info.width, info.height) == (96, 32)  # 12x8 -> 48x32, next to 48x32
    assert result.frames == 5 and len(list(read_rgb(out))) == 5
    assert len(result.profiles) == 3
    profile = cv2.imread(str(result.profiles[1]))[..., ::-1]
    assert profile.shape == (5, 48, 3)
    # The HR profile is exactly row 10 of each HR frame (lossless input, no resizing).
    expected = np.stack([f[10] for f in read_rgb(hr)])
    assert np.array_equal(profile, expected)
    # The sheet: both profiles side by side under a 24-px label strip, a 2-px white line.
    sheet = cv2.imread(str(result.profiles[2]))[..., ::-1]
    assert result.profiles[2].name == "cmp_profile_row10.png"
    assert sheet.shape == (24 + 5, 48 + 2 + 48, 3)
    lr_profile = cv2.imread(str(result.profiles[0]))[..., ::-1]
    assert np.array_equal(sheet[24:, :48], lr_profile)
    assert np.array_equal(sheet[24:, 50:], expected)
    assert (sheet[:, 48:50] == 255).all() and sheet[:24, :48].any()  # separator, label


def test_labels_are_drawn_on_each_panel(tmp_path, clips) -> None:
    lr, hr, _ = clips
    from vsrup.bench.compare import compose

    frames = [next(read_rgb(hr)), next(read_rgb(hr))]
    plain, _ = compose(frames, ["", ""], [(48, 32)] * 2, wipe=False, interp=cv2.INTER_NEAREST)
    labelled, _ = compose(frames, ["A", "B"], [(48, 32)] * 2, wipe=False, interp=0)
    changed = np.any(plain != labelled, axis=2)
    assert changed[:, :48].any() and changed[:, 48:].any()  # one label per panel
    assert not changed[20:].any()  # only at the top


def test_wipe_keeps_one_frame_size_and_stops_at_the_shortest(tmp_path, clips) -> None:
    lr, hr, short = clips
    out = tmp_path / "wipe.mp4"
    result = compare_videos([lr, hr, short], out, wipe=True, height=16, resize="bicubic")
    info = probe_video(out)
    assert (info.width, info.height) == (24, 16)
    assert result.frames == 3 and result.input_frames == [5, 5, 3]
    assert len(list(read_rgb(out))) == 3


def test_cli_and_bad_usage(tmp_path, clips) -> None:
    lr, hr, short = clips
    runner = CliRunner()
    out = tmp_path / "c.mp4"
    ok = runner.invoke(
        app, ["compare", str(lr), str(short), "-o", str(out), "--label", "LR", "--label", "GT"]
    )
    assert ok.exit_code == 0, ok.stderr
    assert "differ in length" in ok.stderr and out.exists()
    assert runner.invoke(app, ["compare", str(lr), "-o", str(out)]).exit_code == 2
    same = runner.invoke(app, ["compare", str(lr), str(hr), "-o", str(hr)])
    assert same.exit_code == 2
    with pytest.raises(UsageError, match="labels"):
        compare_videos([lr, hr], out, labels=["only one"])
    exists = runner.invoke(app, ["compare", str(lr), str(hr), "-o", str(out)])
    assert exists.exit_code == 2 and "already exists" in exists.stderr
    missing = runner.invoke(
        app, ["compare", str(lr), str(tmp_path / "x.mp4"), "-o", str(out), "--overwrite"]
    )
    assert missing.exit_code == 2 and "x.mp4: no such file" in missing.stderr
