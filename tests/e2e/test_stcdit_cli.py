"""`vsrup upscale -m stcdit --synthetic-weights tiny` end to end: every frame, same times."""

from __future__ import annotations

from pathlib import Path

import av
from typer.testing import CliRunner

from vsrup.cli.app import app
from vsrup.video.synth import make_clip


def _frame_times(path: Path) -> list[float]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sorted(float(f.pts * stream.time_base) for f in container.decode(stream))


def test_stcdit_upscale_keeps_frames_and_timestamps(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", width=16, height=12, frames=11, vfr=True)
    out = tmp_path / "out.mp4"
    args = [
        "upscale", str(src), "-o", str(out), "-m", "stcdit", "--synthetic-weights", "tiny",
        "--steps", "1", "--scale", "2", "--device", "cpu", "--quiet",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (32, 24)
    times_in, times_out = _frame_times(src), _frame_times(out)
    assert len(times_out) == len(times_in) == 11
    assert all(abs(a - b) < 1e-3 for a, b in zip(times_in, times_out))
