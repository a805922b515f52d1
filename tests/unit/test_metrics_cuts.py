"""Temporal scores are per shot: the pair across a scene cut is not scored (its warping error
would swamp a real video's mean), the cut is reported, and an output's own flicker is never
taken for a cut."""

from __future__ import annotations

import json

import numpy as np
from typer.testing import CliRunner

from tests.helpers_bench import panning_clip, textured, to_u8, write_lossless
from vsrup.cli.app import app
from vsrup.metrics import evaluate_frames


def two_shots(n: int = 4) -> list[np.ndarray]:
    """A bright pan, then a hard cut to a dark pan of another picture."""
    first = panning_clip(n, 40, 56, step=2, seed=1)
    dark = textured(80, 140, seed=7, lo=0.0, hi=0.3)
    second = [to_u8(dark[10:50, 4 * i : 4 * i + 56]) for i in range(n)]
    return [*first, *second]


def within_shot_mean(frames: list[np.ndarray], cut: int) -> float:
    shots = (frames[:cut], frames[cut:])
    values = [f.warp_error for shot in shots for f in evaluate_frames(shot).frames[1:]]
    return float(np.mean(values))


def test_the_pair_across_a_cut_is_not_scored_and_the_cut_is_listed() -> None:
    frames = two_shots()
    report = evaluate_frames(frames)
    assert report.cuts == [4]
    across = report.frames[4]
    assert across.warp_error is None and across.luma_flicker is None
    assert report.means()["warp_error"] == within_shot_mean(frames, 4)


def test_with_a_reference_the_cut_comes_from_the_reference() -> None:
    frames = two_shots()
    report = evaluate_frames(frames, frames)
    assert report.cuts == [4]
    assert report.frames[4].tdiff is None and report.frames[5].tdiff is not None
    # An output that jumps as far as a cut where the reference does not is scored there.
    still = [frames[0]] * 8
    jumping = [*still[:4], *frames[4:]]
    jumped = evaluate_frames(jumping, still)
    assert jumped.cuts == []
    assert jumped.frames[4].warp_error is not None and jumped.frames[4].warp_error > 1e-2


def test_brightness_flicker_is_scored_not_taken_for_a_cut() -> None:
    base = textured(48, 64)
    pumping = [to_u8(np.clip(base + (0.3 if i % 2 else 0.0), 0, 1)) for i in range(6)]
    report = evaluate_frames(pumping)
    assert report.cuts == []
    assert all(f.warp_error is not None and f.warp_error > 3e-2 for f in report.frames[1:])
    assert all(f.luma_flicker is not None and f.luma_flicker > 40 for f in report.frames[1:])


def test_cli_lists_the_cuts(tmp_path) -> None:
    out = write_lossless(tmp_path / "out.mkv", two_shots())
    data = json.loads(CliRunner().invoke(app, ["metrics", str(out), "--json"]).stdout)
    assert data["cuts"] == [4]
    assert data["per_frame"][4]["warp_error"] is None
    table = CliRunner().invoke(app, ["metrics", str(out)])
    assert table.exit_code == 0, table.output
    assert "1 scene cut(s), at frame(s) 4" in " ".join(table.stdout.split())
