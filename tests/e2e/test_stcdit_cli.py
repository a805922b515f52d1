"""`vsrup upscale -m stcdit --synthetic-weights tiny` end to end: every frame, same times."""

from __future__ import annotations

from pathlib import Path

import av
import pytest
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
    sampled on its own (`STCDiTPipeline`), instead of one run over the whole video."""
    from vsrup.methods.stcdit import pipeline
    from vsrup.methods.stcdit import video as whole

    calls: list[int] = []
    real = pipeline.STCDiTPipeline.__call__

    def counting(self, frames, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        calls.append(frames.shape[0])
        return real(self, frames, *args, **kwargs)

    monkeypatch.setattr(pipeline.STCDiTPipeline, "__call__", counting)
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


def test_window_is_refused_for_methods_without_a_whole_video_run(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", width=16, height=16, frames=2)
    args = ["upscale", str(src), "-o", str(tmp_path / "o.mp4"), "-m", "lanczos", "--window", "4"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0
    assert "--window" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o.mp4").exists()


@pytest.mark.parametrize("insist", [[], ["--resume"]], ids=["rerun", "resume"])
def test_resume_continues_inside_the_sampling_loop(tmp_path: Path, monkeypatch, insist) -> None:  # noqa: ANN001
    """A crash in step 2 of 2 keeps step 1 in the job's directory; rerunning the same command
    (or with `--resume`) computes only step 2 and writes the frames an uninterrupted run
    writes."""
    from vsrup.methods.stcdit import video

    src = make_clip(tmp_path / "in.mp4", width=16, height=16, frames=6)
    base = [
        "upscale", str(src), "-m", "stcdit", "--synthetic-weights", "tiny", "--steps", "2",
        "--scale", "1", "--device", "cpu", "--quiet", "--codec", "ffv1",
    ]  # fmt: skip
    clean = tmp_path / "clean.mkv"
    assert CliRunner().invoke(app, [*base, "-o", str(clean)]).exit_code == 0

    real = video.guided_velocity
    calls = {"n": 0}

    def failing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == 2:  # one tile per step on this clip: the first call of step 2
            raise RuntimeError("killed in step 2")
        return real(*args, **kwargs)

    out = tmp_path / "out.mkv"
    work = tmp_path / "work"
    monkeypatch.setattr(video, "guided_velocity", failing)
    crashed = CliRunner().invoke(app, [*base, "-o", str(out), "--work-dir", str(work)])
    assert crashed.exit_code != 0 and not out.exists()
    assert list(work.rglob("latent_steps.json")), "step 1 was not checkpointed"

    calls["n"] = 10  # from here on, count only
    resumed = CliRunner().invoke(app, [*base, "-o", str(out), "--work-dir", str(work), *insist])
    assert resumed.exit_code == 0, resumed.output
    assert calls["n"] == 11  # step 2 only
    assert _decoded(out) == _decoded(clean)


def _decoded(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24").tobytes() for f in container.decode(video=0)]


def test_scene_cuts_sample_each_shot_on_its_own(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    from tests.helpers_engine import camera_clip, photo, poses_from_steps, write_video
    from vsrup.methods.stcdit import video

    pan = poses_from_steps([(1, 0, 0, 1)] * 4)
    frames = camera_clip(photo("astronaut"), pan, (32, 32)) + camera_clip(
        photo("coffee"), pan, (32, 32)
    )
    src = tmp_path / "two_shots.mkv"
    write_video(src, frames)
    runs: list[int] = []
    real_init = video.VideoRun.__init__

    def counting(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        runs.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(video.VideoRun, "__init__", counting)
    base = [
        "upscale", str(src), "-m", "stcdit", "--synthetic-weights", "tiny", "--steps", "1",
        "--scale", "1", "--device", "cpu", "--quiet",
    ]  # fmt: skip
    result = CliRunner().invoke(app, [*base, "-o", str(tmp_path / "a.mp4"), "--scene-cuts"])
    assert result.exit_code == 0, result.output
    assert len(runs) == 2 and len(_frame_times(tmp_path / "a.mp4")) == 10
    runs.clear()
    result = CliRunner().invoke(app, [*base, "-o", str(tmp_path / "b.mp4")])
    assert result.exit_code == 0, result.output
    assert len(runs) == 1


def test_scene_cuts_are_refused_for_methods_without_segments(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "in.mp4", width=16, height=16, frames=2)
    args = ["upscale", str(src), "-o", str(tmp_path / "o.mp4"), "-m", "lanczos", "--scene-cuts"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code != 0 and "--scene-cuts" in result.output
    assert "Traceback" not in result.output
