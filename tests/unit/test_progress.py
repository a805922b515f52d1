"""Progress for slow methods: steps × tiles inside a window, an honest ETA, what Ctrl-C kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vsrup.cli.progress import ProgressView, RateMeter
from vsrup.engine.pipeline import Progress, UpscaleJob, run_job
from vsrup.engine.scheduler import StreamOptions, run_stream
from vsrup.methods.classical import Bicubic
from vsrup.util.steps import report_step
from vsrup.video.synth import make_clip

STEPS = 4


class Stepping(Bicubic):
    """Bicubic that reports STEPS sampling steps per call, like a diffusion sampler."""

    def process(self, clip):  # noqa: ANN001, ANN201
        for i in range(STEPS):
            report_step(i + 1, STEPS)
        return super().process(clip)


def test_progress_moves_with_steps_and_tiles_inside_a_window() -> None:
    seen: list[float] = []
    frames = [(torch.rand(3, 32, 32), i) for i in range(3)]
    opts = StreamOptions(batch=3, tile=16, on_progress=seen.append)
    run_stream(frames, Stepping(2), lambda f, p: None, None, opts)
    # 4 tiles of 16 px (plus overlap) × 4 steps before the window's 3 frames are final.
    partial = [v for v in seen if v != int(v)]
    assert len(partial) >= 4 * STEPS - 4
    assert seen == sorted(seen) and seen[-1] == 3
    assert partial[0] < 0.5 and partial[-1] > 2.5


def test_rate_meter_uses_recent_work_not_the_whole_run() -> None:
    meter = RateMeter(span_s=30)
    meter.add(0, 0)
    meter.add(60, 1)  # a minute of model loading and a slow first frame
    for t in range(61, 121):
        meter.add(t, 1 + (t - 60) * 2)  # then 2 frames/s
    assert meter.rate() == pytest.approx(2.0)
    assert meter.eta_s(121, 221) == pytest.approx(50.0)


def test_plain_lines_report_partial_frames_and_eta(capsys: pytest.CaptureFixture) -> None:
    now = [0.0]
    view = ProgressView(quiet=False, clock=lambda: now[0])
    view.start("clip.mp4")
    for k in range(1, 21):
        now[0] = k * 3.0
        view.update(Progress(done=k * 0.5, total=20, elapsed_s=now[0]))
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 10  # one every 5 s of a 60 s run
    assert "10/20 frames" in lines[-1] and "0.17 fps" in lines[-1]
    assert "ETA 0:01:00" in lines[-1]


def test_ctrl_c_says_what_was_kept(tmp_path: Path) -> None:
    src = make_clip(tmp_path / "a.mp4", frames=8)
    warnings: list[str] = []

    def stop_after_two(p: Progress) -> None:
        if p.done >= 2:
            raise KeyboardInterrupt

    job = UpscaleJob(input=src, output=tmp_path / "o.mp4", method="nearest", batch=1)
    with pytest.raises(KeyboardInterrupt):
        run_job(job, on_progress=stop_after_two, on_warning=warnings.append)
    assert any("interrupted after 2 of 8 frames, before the first segment" in w for w in warnings)
    assert not (tmp_path / "o.mp4").exists()
