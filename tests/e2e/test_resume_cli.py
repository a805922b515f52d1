"""Resume through `vsrup upscale`: a run killed (SIGKILL) or interrupted (Ctrl-C) part-way is
continued by a plain rerun, redoes at most the unfinished segment and gives pixel-identical
output; `--resume` explains a mismatch; `vsrup jobs`; every output format goes through the
segments; stale temporaries of dead processes go, a live run's stay."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.helpers_resume import METHOD_ID, register
from tests.helpers_video import clip_with_pts
from vsrup import methods
from vsrup.cli.app import app
from vsrup.video.synth import make_clip

ROOT = Path(__file__).resolve().parents[2]
SEG = 8  # frames per segment in these tests: 40 frames → 5 segments


def decode(path):
    """Frames and their times in seconds (exact fractions)."""
    import av

    with av.open(str(path)) as c:
        frames = [(f.to_ndarray(format="rgb24"), f.pts * f.time_base) for f in c.decode(video=0)]
    return [f for f, _ in frames], [p for _, p in frames]


def same_video(a, b) -> bool:
    fa, pa = decode(a)
    fb, pb = decode(b)
    return pa == pb and len(fa) == len(fb) and all(np.array_equal(x, y) for x, y in zip(fa, fb))


@pytest.fixture
def method(monkeypatch):
    from vsrup.interface import registry

    methods.ids()
    monkeypatch.setitem(registry._REGISTRY, METHOD_ID, registry._REGISTRY.get(METHOD_ID))
    cls = register()
    cls.log = []
    return cls


@pytest.fixture
def clip(tmp_path):
    return make_clip(tmp_path / "in.mp4", frames=40, width=32, height=24)


def args(clip, out, work, *extra):
    return ["upscale", str(clip), "-o", str(out), "-m", METHOD_ID, "--work-dir", str(work),
            "--segment-frames", str(SEG), *extra]  # fmt: skip


def segments(work: Path) -> list[Path]:
    return sorted(work.glob("job-*/seg-*.json"))


def test_ctrl_c_then_a_plain_rerun_continues_to_identical_output(tmp_path, clip, method):
    runner = CliRunner()
    work = tmp_path / "work"
    ref = tmp_path / "ref.mp4"
    res = runner.invoke(app, args(clip, ref, work, "-q"))
    assert res.exit_code == 0, res.output
    assert list(work.iterdir()) == []  # the job's directory goes once the output is complete
    full_windows = len(method.log)

    out = tmp_path / "out.mp4"
    method.fail_after_windows, method.fail_with = 5, KeyboardInterrupt
    res = runner.invoke(app, args(clip, out, work))
    assert res.exit_code == 130 and "interrupted" in res.output, res.output
    assert not out.exists() and "rerun the same command" in res.output
    kept = len(segments(work))
    assert 1 <= kept < 5

    method.fail_after_windows, method.log = None, []
    res = runner.invoke(app, args(clip, out, work))  # no --resume: the same job continues
    assert res.exit_code == 0, res.output
    assert f"{kept * SEG} frames are finished" in res.output
    assert same_video(out, ref)
    # Only windows reaching past the finished segments were computed again.
    assert min(start + n for start, n in method.log) > kept * SEG
    assert len(method.log) < full_windows
    assert list(work.iterdir()) == []


def test_sigkill_at_60_percent_loses_at_most_one_segment(tmp_path, clip, method):
    work = tmp_path / "work"
    ref, out = tmp_path / "ref.mp4", tmp_path / "out.mp4"
    res = CliRunner().invoke(app, args(clip, ref, work, "-q"))
    assert res.exit_code == 0, res.output

    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    code = (f"from tests.helpers_resume import child_main; "
            f"child_main({args(clip, out, work, '-q')!r}, 0.25)")  # fmt: skip
    child = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT,
                             stderr=subprocess.PIPE)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while len(segments(work)) < 3 and child.poll() is None:
            assert time.monotonic() < deadline, "the child made no progress"
            time.sleep(0.02)
        assert child.poll() is None, child.stderr.read().decode()
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait()
    kept = len(segments(work))
    assert 3 <= kept < 5
    # Killed while computing: nothing beside the output yet (its file is created when the
    # segments are stitched). One killed while stitching leaves its temporary behind:
    assert not list(tmp_path.glob(".out.vsrup-*"))
    partials = [tmp_path / f".out.vsrup-{child.pid}-00c0ffee.partial.mp4"]
    partials[0].write_bytes(b"half a stitched file")

    method.log = []
    res = CliRunner().invoke(app, args(clip, out, work))
    assert res.exit_code == 0, res.output
    assert "removed a partial output" in res.output and not partials[0].exists()
    assert same_video(out, ref)
    assert min(start + n for start, n in method.log) > kept * SEG  # at most one segment redone
    assert list(work.iterdir()) == []


def test_resume_names_the_settings_that_differ(tmp_path, clip, method):
    runner = CliRunner()
    work = tmp_path / "work"
    out = tmp_path / "out.mp4"
    res = runner.invoke(app, args(clip, out, work, "--resume"))
    assert res.exit_code == 2 and "no interrupted run of this input" in res.output
    res = runner.invoke(app, args(clip, out, work, "--resume", "--no-checkpoint"))
    assert res.exit_code == 2 and "drop --no-checkpoint" in res.output

    method.fail_after_windows, method.fail_with = 5, RuntimeError
    res = runner.invoke(app, args(clip, out, work, "--crf", "30"))
    assert res.exit_code == 1 and segments(work)
    method.fail_after_windows = None
    res = runner.invoke(app, args(clip, out, work, "--crf", "20", "--resume"))
    assert res.exit_code == 2, res.output
    assert "used other settings" in res.output and "encode.crf: 30 → 20" in res.output
    assert not out.exists()
    res = runner.invoke(app, args(clip, out, work, "--crf", "30", "--resume"))
    assert res.exit_code == 0 and "frames are finished" in res.output, res.output


def test_jobs_list_and_clean(tmp_path, clip, method):
    runner = CliRunner()
    work = tmp_path / "work"
    res = runner.invoke(app, ["jobs", "list", "--work-dir", str(work)])
    assert res.exit_code == 0 and "no unfinished runs" in res.output
    method.fail_after_windows = 5
    runner.invoke(app, args(clip, tmp_path / "out.mp4", work))
    res = runner.invoke(app, ["jobs", "list", "--work-dir", str(work)])
    assert res.exit_code == 0, res.output
    assert str(clip.resolve()) in res.output and METHOD_ID in res.output
    assert "interrupted" in res.output and f"{len(segments(work)) * SEG} frames done" in res.output
    res = runner.invoke(app, ["jobs", "clean", "--work-dir", str(work), "--older-than", "1"])
    assert "removed 0" in res.output and segments(work)
    res = runner.invoke(app, ["jobs", "clean", "--work-dir", str(work)])
    assert res.exit_code == 0 and "removed 1" in res.output
    assert list(work.iterdir()) == []


@pytest.mark.parametrize(
    "name,codec",
    [("o.mp4", "h264"), ("o.mkv", "hevc"), ("o.webm", "vp9"), ("o.mkv", "av1"),
     ("o.mov", "prores"), ("o.mkv", "ffv1"), ("seq/%04d.png", None)],
)  # fmt: skip
def test_every_output_format_is_stitched_from_segments(tmp_path, name, codec):
    src = make_clip(tmp_path / "in.mkv", frames=11, width=32, height=24, vfr=True,
                    codec="ffv1")  # fmt: skip
    out = tmp_path / "seg" / name
    plain = tmp_path / "plain" / name
    for target, extra in ((out, ["--segment-frames", "4"]), (plain, ["--no-checkpoint"])):
        target.parent.mkdir(parents=True, exist_ok=True)
        cmd = ["upscale", str(src), "-o", str(target), "-m", "bicubic", "-q", *extra]
        res = CliRunner().invoke(app, cmd + (["--codec", codec] if codec else []))
        assert res.exit_code == 0, res.output
    if codec is None:
        a, b = sorted(out.parent.glob("*.png")), sorted(plain.parent.glob("*.png"))
        assert len(a) == 11 and [p.read_bytes() for p in a] == [p.read_bytes() for p in b]
        return
    frames, pts = decode(out)
    assert pts == decode(src)[1] and len(frames) == 11
    if codec == "ffv1":  # lossless: the segments hold exactly the frames of a direct run
        assert same_video(out, plain)


def test_stale_partials_of_dead_processes_go_live_ones_stay(tmp_path):
    from vsrup.video.output import remove_stale_partials

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()  # its pid is now free: a dead process
    dead = tmp_path / f".out.vsrup-{child.pid}-0a1b2c3d.partial.mp4"
    dead_dir = tmp_path / f".seq.vsrup-{child.pid}-0a1b2c3e.partial"
    live = tmp_path / f".out.vsrup-{os.getpid()}-0a1b2c3f.partial.mp4"
    other = tmp_path / ".notes.partial.mp4"
    for f in (dead, live, other):
        f.write_bytes(b"x")
    dead_dir.mkdir()
    (dead_dir / "000000.png").write_bytes(b"x")
    told: list[str] = []
    assert remove_stale_partials(tmp_path, told.append) == 2
    assert not dead.exists() and not dead_dir.exists()
    assert live.exists() and other.exists()
    assert len(told) == 2 and str(child.pid) in told[0]


@pytest.mark.parametrize("codec", ["h264", "hevc"])
def test_a_repeated_timestamp_at_a_segment_boundary_is_moved_and_resume_agrees(
    tmp_path, method, codec
):
    # Frames 7 and 8 (the first of segment 2) share a time, as do 16 and 17 inside segment 3.
    times = [i * 42 for i in range(8)] + [294 + i * 42 for i in range(8)]
    times += [630, 630] + [672 + i * 42 for i in range(6)]
    clip = clip_with_pts(tmp_path / "dup.mkv", times)
    runner, work = CliRunner(), tmp_path / "work"
    ref, out = tmp_path / "ref.mp4", tmp_path / "out.mp4"
    res = runner.invoke(app, args(clip, ref, work, "--codec", codec))
    assert res.exit_code == 0, res.output
    assert "1 segment(s) began on the previous frame's timestamp" in res.output
    _, pts = decode(ref)
    assert len(pts) == len(times) and pts == sorted(set(pts))
    ms = [round(p * 1000) for p in pts]
    assert ms[:8] == times[:8] and ms[8:16] == [t + 1 for t in times[8:16]]  # one tick later
    assert ms[16:] == [630, 631, *times[18:]]

    method.fail_after_windows, method.fail_with = 2, KeyboardInterrupt
    res = runner.invoke(app, args(clip, out, work, "--codec", codec))
    assert res.exit_code == 130, res.output
    assert 1 <= len(segments(work)) < 3  # the rerun stitches old and new segments
    method.fail_after_windows = None
    res = runner.invoke(app, args(clip, out, work, "--codec", codec))
    assert res.exit_code == 0, res.output
    assert same_video(out, ref)
