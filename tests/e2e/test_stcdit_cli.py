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


def test_window_option_samples_independent_windows(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    """`--window N` is the old behaviour: windows of whole segments up to N frames, each
    sampled on its own (`upscale_clip`), instead of one run over the whole video."""
    from vsrup.methods.stcdit import pipeline
    from vsrup.methods.stcdit import video as whole

    calls: list[int] = []
    real = pipeline.upscale_clip

    def counting(parts, frames, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(frames.shape[0])
        return real(parts, frames, *args, **kwargs)

    monkeypatch.setattr(pipeline, "upscale_clip", counting)
    monkeypatch.setattr(whole.VideoRun, "frames", None)  # must not be used
    src = make_clip(tmp_path / "in.mp4", width=16, height=16, frames=12)
    out = tmp_path / "out.mp4"
    args = [
        "upscale", str(src), "-o", str(out), "-m", "stcdit", "--synthetic-weights", "tiny",
        "--steps", "1", "--scale", "1", "--device", "cpu", "--quiet", "--window", "9",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert len(calls) >= 2 and max(calls) <= 9
    assert len(_frame_times(out)) == 12


def test_window_is_refused_for_frame_by_frame_methods(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", width=16, height=16, frames=2)
    args = ["upscale", str(src), "-o", str(tmp_path / "o.mp4"), "-m", "lanczos", "--window", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "--window" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o.mp4").exists()
