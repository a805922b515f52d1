"""vsrup bench: stage timing API, runs of classical and tiny methods, reports."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest
import torch
from typer.testing import CliRunner

from vsrup.bench.degrade import Degradation
from vsrup.bench.suite import BenchSettings, run_bench
from vsrup.cli.app import app
from vsrup.util.timing import STAGES, StageTimer, is_recording, recording, timed_iter


def test_stage_timer_is_a_no_op_unless_recording_and_records_nesting() -> None:
    assert not is_recording()
    with StageTimer("decode"):
        pass
    with recording() as rec:
        with StageTimer("method"):
            with StageTimer("denoise"):
                time.sleep(0.01)
            with StageTimer("denoise"):
                pass
        items = list(timed_iter("decode", iter([1, 2, 3])))
        worker = threading.Thread(
            target=lambda: StageTimer("encode").__enter__().__exit__(None, None, None)
        )
        worker.start()
        worker.join()
    assert items == [1, 2, 3]
    names = [n for n, _ in rec.ordered()]
    assert names == ["decode", "method", "denoise", "encode"]  # pipeline order
    totals = dict(rec.ordered())
    assert totals["denoise"].calls == 2 and totals["denoise"].parent == "method"
    assert totals["method"].parent is None and totals["encode"].parent is None
    assert totals["method"].seconds >= totals["denoise"].seconds >= 0.01
    assert totals["decode"].calls == 4  # three items and the final StopIteration
    assert not is_recording()


def test_stage_timer_totals_feed_a_dict_with_or_without_recording() -> None:
    # The engine's per-run counters (JobResult.timings) come from the same StageTimer calls.
    totals: dict[str, float] = {}
    with StageTimer("method", totals):
        time.sleep(0.01)
    assert not is_recording() and set(totals) == {"method"} and totals["method"] >= 0.01
    with recording() as rec:
        with StageTimer("method", totals):
            pass
        assert list(timed_iter("decode_wait", iter([1, 2]), totals)) == [1, 2]
    assert set(totals) == {"method", "decode_wait"}
    recorded = dict(rec.ordered())
    assert recorded["method"].calls == 1 and recorded["decode_wait"].calls == 3


def _settings(**kw) -> BenchSettings:
    base = dict(methods=["bicubic", "nearest"], size=(32, 24), length=4, warmup=0, ffmpeg=False)
    base.update(kw)
    return BenchSettings(**base)


def test_classical_methods_on_a_generated_clip() -> None:
    report = run_bench(_settings(repeat=2))
    assert [r.method for r in report.results] == ["bicubic", "nearest"]
    for r in report.results:
        assert r.error is None, r.error
        assert r.frames == 4 and r.output_size == (128, 96)
        assert len(r.runs) == 2 and all(run.fps > 0 for run in r.runs)
        stages = [name for name, *_ in r.stage_means()]
        assert {"load", "decode", "method", "encode"} <= set(stages)
        # Classical methods on the CPU take the direct decoder → swscale → encoder path: no
        # blend/colour/quantise stage (the engine's "blend" counter) exists there.
        assert "blend" not in stages
        assert stages == [n for n in STAGES if n in stages]  # pipeline order
        assert "vae_encode" not in stages  # stages a method does not have are omitted
        # Top-level stages cover the run: exactly with "other"; more without it, because the
        # pipeline decodes and encodes in background threads that overlap the method.
        total = sum(sec for _, sec, _, parent in r.stage_means() if parent is None)
        assert total >= r.mean("seconds") * (1 - 1e-6)
        assert r.peak("peak_rss") > 10 * 1024 * 1024
        assert r.device == "cpu" and r.dtype == "fp32"
        assert r.quality is not None and r.quality["psnr_y"] is None  # no reference
        assert r.quality["warp_error"] is not None


def test_degrade_scores_against_the_original_and_frames_range(tmp_path) -> None:
    src = tmp_path / "clip.mkv"
    from vsrup.video.synth import make_clip

    make_clip(src, width=64, height=48, frames=6)
    report = run_bench(
        _settings(
            methods=["lanczos", "nearest"],
            input=src,
            start=1,
            stop=5,
            degrade=Degradation(scale=4),
            keep=tmp_path / "out",
        )
    )
    lanczos, nearest = report.results
    assert lanczos.frames == 4 and lanczos.output_size == (64, 48)
    assert lanczos.quality["psnr_y"] > nearest.quality["psnr_y"] > 15
    assert (tmp_path / "out" / "lanczos.mp4").exists()
    assert report.input["degrade"] == "x4 bicubic"
    # A reference of the wrong size is reported, not fatal.
    wrong = run_bench(_settings(methods=["nearest"], reference=src, temporal=False))
    assert wrong.results[0].quality is None and "differs" in wrong.results[0].note


#: The sub-stages each diffusion method's pipeline times (StableVSR and DGAF below).
DIFFUSION_STAGES = ("vae_encode", "denoise", "vae_decode")


@pytest.mark.parametrize("method", ["dloral", "litevsr", "simplegvr", "stcdit"])
def test_tiny_synthetic_diffusion_method_reports_its_stages(method: str) -> None:
    report = run_bench(
        _settings(
            methods=[method],
            size=(32, 32),
            length=5,
            synthetic_weights="tiny",
            steps=1,
            temporal=False,
        )
    )
    (r,) = report.results
    assert r.error is None, r.error
    means = {name: (sec, parent) for name, sec, _, parent in r.stage_means()}
    for sub in DIFFUSION_STAGES:
        assert means[sub][1] == "method" and means[sub][0] > 0, (sub, means)
    assert means["method"][0] >= sum(means[s][0] for s in DIFFUSION_STAGES)
    assert means["load"][0] > 0  # the engine times from_weights
    assert r.frames == 5


def test_flow_guided_pipelines_time_denoise_and_vae_decode() -> None:
    # StableVSR and DGAF condition on the LR pixels (no VAE encode). Their pipelines directly,
    # on tiny parts: a whole bench run of them takes half a minute on a loaded CPU.
    from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel

    from vsrup.methods.dgaf.model import DGAFNet
    from vsrup.methods.dgaf.pipeline import DGAFPipeline
    from vsrup.methods.stablevsr import config as configs
    from vsrup.methods.stablevsr.model import build_controlnet
    from vsrup.methods.stablevsr.pipeline import StableVSRPipeline

    unet = UNet2DConditionModel(**configs.unet_config("tiny")).eval()
    vae = AutoencoderKL(**configs.vae_config("tiny")).eval()
    emb = torch.randn(1, configs.TINY_TOKENS, unet.config.cross_attention_dim)
    sched = DDPMScheduler.from_config(configs.SCHEDULER)
    flows = ([torch.zeros(1, 32, 32, 2)], [torch.zeros(1, 32, 32, 2)])
    pipes = {
        "stablevsr": StableVSRPipeline(
            unet, vae, sched, emb, None, controlnet=build_controlnet(unet, "tiny").eval()
        ),
        "dgaf": DGAFPipeline(
            unet, vae, sched, emb, None, dgafnet=DGAFNet.from_unet(unet, conditioning_channels=4)
        ),
    }
    for name, pipe in pipes.items():
        with recording() as rec, StageTimer("method"):
            pipe(torch.rand(2, 3, 8, 8), steps=1, generator=torch.Generator(), flows=flows)
        totals = dict(rec.ordered())
        # Two frames, one step: one plain and one guided denoiser call; the guided one decodes
        # the previous x0 (StableVSR) and the output is decoded frame by frame.
        assert totals["denoise"].calls == 2 and totals["denoise"].parent == "method", name
        assert totals["vae_decode"].parent == "method", name
        assert totals["vae_decode"].calls == (2 if name == "stablevsr" else 1), name
        assert "vae_encode" not in totals, name


def test_segment_using_method_reports_segmentation_time() -> None:
    report = run_bench(
        _settings(
            methods=["stcdit"],
            size=(32, 32),
            length=5,
            synthetic_weights="tiny",
            steps=1,
            temporal=False,
        )
    )
    (r,) = report.results
    assert r.error is None, r.error
    means = {name: sec for name, sec, _, _ in r.stage_means()}
    assert means.get("segmentation", 0) > 0


def test_cli_json_schema_and_markdown(tmp_path) -> None:
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "bench",
            "-m",
            "bicubic",
            "--size",
            "32x24",
            "--length",
            "3",
            "--warmup",
            "0",
            "--json",
            "--degrade",
            "--scale",
            "2",
        ],
    )
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert data["schema"] == "vsrup.bench/1"
    assert set(data) == {"schema", "input", "host", "settings", "results"}
    assert data["input"]["width"] == 32 and data["input"]["degrade"] == "x2 bicubic"
    rows = {r["method"]: r for r in data["results"]}
    row = rows["bicubic"]
    assert set(row) >= {
        "method",
        "device",
        "dtype",
        "frames",
        "output_size",
        "runs",
        "seconds",
        "fps",
        "load_seconds",
        "stages",
        "peak_rss_mb",
        "peak_vram_mb",
        "quality",
        "error",
    }
    assert row["frames"] == 3 and row["output_size"] == [64, 48] and row["fps"] > 0
    names = [s["name"] for s in row["stages"]]
    assert {"load", "decode", "method", "encode"} <= set(names)
    assert all(s["parent"] is None and s["seconds"] >= 0 for s in row["stages"])
    assert row["peak_vram_mb"] is None  # CPU
    assert set(row["quality"]) == {"psnr_y", "ssim_y", "warp_error", "luma_flicker", "tdiff"}
    if shutil.which("ffmpeg"):
        assert rows["ffmpeg-lanczos"]["stages"][0]["name"] == "ffmpeg"
        assert rows["ffmpeg-lanczos"]["frames"] == 3
    md = runner.invoke(
        app,
        [
            "bench",
            "-m",
            "nearest",
            "--size",
            "16x16",
            "--length",
            "2",
            "--warmup",
            "0",
            "--markdown",
            "--no-ffmpeg",
        ],
    )
    assert md.exit_code == 0, md.stderr
    assert "| method | device | frames |" in md.stdout and "ffmpeg" not in md.stdout


def test_cli_errors() -> None:
    runner = CliRunner()
    unknown = runner.invoke(app, ["bench", "-m", "nope"])
    assert unknown.exit_code == 2 and "unknown method 'nope'" in unknown.stderr
    # A learned method without weights fails in its row; all rows failed -> its exit code.
    res = runner.invoke(
        app,
        [
            "bench",
            "-m",
            "litevsr",
            "--size",
            "16x16",
            "--length",
            "1",
            "--no-ffmpeg",
            "--warmup",
            "0",
        ],
    )
    assert res.exit_code == 2 and "litevsr" in res.stderr
    bad = runner.invoke(app, ["bench", "-m", "bicubic", "--size", "10"])
    assert bad.exit_code == 2 and "bad size" in bad.stderr


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed")
def test_ffmpeg_row_matches_our_lanczos_quality(tmp_path) -> None:
    report = run_bench(
        _settings(
            methods=["lanczos"],
            size=(48, 32),
            length=3,
            ffmpeg=True,
            scale=2,
            degrade=Degradation(scale=2),
        )
    )
    ours, ref = report.results
    assert ref.method == "ffmpeg-lanczos" and ref.error is None
    assert abs(ours.quality["psnr_y"] - ref.quality["psnr_y"]) < 1.0


def test_cuda_paths_synchronise_and_read_the_allocator_peak(monkeypatch) -> None:
    """No GPU here: the CUDA calls are patched to check they are made where they must be."""
    import torch

    from vsrup.bench.memory import PeakMemory

    calls: list[str] = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append("sync"))
    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", lambda: calls.append("reset"))
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda: 123 * 2**20)
    monkeypatch.setattr(torch.cuda, "max_memory_reserved", lambda: 200 * 2**20)
    with recording(sync_device="cuda"), StageTimer("denoise"):
        pass
    assert calls == ["sync", "sync"]  # entry and exit of the stage
    calls.clear()
    with PeakMemory("cuda") as mem:
        pass
    assert calls[:2] == ["sync", "reset"] and calls[-1] == "sync"
    assert mem.peak_vram == 123 * 2**20 and mem.peak_vram_reserved == 200 * 2**20
    assert mem.peak_rss > 0
