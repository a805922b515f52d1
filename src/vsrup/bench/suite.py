"""`vsrup bench` as a library call: prepare the input, run each method, score, report.

    report = run_bench(BenchSettings(methods=["bicubic", "lanczos"], size=(320, 180)))
    print(report.to_markdown())

The input is a given clip, a generated one (`size`, `length`), or, with `degrade`, an LR clip
made from either (then its ground truth is the reference). Every method runs through the same
`Runner` (by default the engine pipeline `vsrup upscale` runs), warm-up runs first, untimed.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vsrup.bench.core import (
    MethodResult,
    bench_ffmpeg,
    bench_method,
    ffmpeg_available,
    host_info,
)
from vsrup.bench.degrade import Degradation
from vsrup.bench.references import ncnn_available, set_ratios
from vsrup.bench.runner import Job, Runner
from vsrup.errors import InputError, UsageError
from vsrup.interface.method import MethodOptions

SCHEMA = "vsrup.bench/1"


@dataclass
class BenchSettings:
    methods: list[str]
    input: Path | None = None
    size: tuple[int, int] = (320, 180)
    length: int = 16
    start: int = 0
    stop: int | None = None
    scale: int = 4
    repeat: int = 1
    warmup: int = 1
    device: str = "auto"
    dtype: str = "auto"
    synthetic_weights: str | None = None
    steps: int | None = None
    seed: int = 42
    extra: dict[str, Any] = field(default_factory=dict)
    reference: Path | None = None
    degrade: Degradation | None = None
    ffmpeg: bool = True
    #: pip ncnn's SPAN as a reference row (when `span` is benchmarked and ncnn is installed).
    ncnn: bool = True
    temporal: bool = True
    #: Folder to keep every output video in (default: a temporary folder, removed after).
    keep: Path | None = None


@dataclass
class BenchReport:
    settings: BenchSettings
    input: dict[str, Any]
    host: dict[str, Any]
    results: list[MethodResult]

    def to_dict(self) -> dict[str, Any]:
        from vsrup.bench.report import report_dict

        return report_dict(self)

    def to_markdown(self) -> str:
        from vsrup.bench.report import markdown

        return markdown(self)


def _default_runner() -> Runner:
    from vsrup.bench.runner import pipeline_runner

    return pipeline_runner


def run_bench(
    settings: BenchSettings,
    runner: Runner | None = None,
    on_result: Callable[[MethodResult], None] | None = None,
) -> BenchReport:
    from vsrup import methods
    from vsrup.video.probe import probe_video

    if not settings.methods:
        raise UsageError("no method to benchmark", hint="pass --method M (several allowed)")
    for m in settings.methods:
        methods.get(m)  # unknown ids fail now, with the list of known ones
    if settings.repeat < 1 or settings.warmup < 0:
        raise UsageError("--repeat must be at least 1 and --warmup at least 0")
    if settings.reference is not None and settings.degrade is not None:
        raise UsageError("--reference and --degrade both name the ground truth; pick one")
    if settings.degrade is not None and settings.degrade.scale != settings.scale:
        raise UsageError(
            f"--degrade makes a ×{settings.degrade.scale} pair but the methods upscale "
            f"×{settings.scale}; use one scale"
        )
    runner = runner or _default_runner()

    with tempfile.TemporaryDirectory(prefix="vsrup-bench-") as tmp:
        work = Path(tmp)
        out_dir = settings.keep or work
        out_dir.mkdir(parents=True, exist_ok=True)
        src, reference, start, stop, described = _prepare_input(settings, work)
        info = probe_video(src)
        input_info = {
            "path": str(settings.input) if settings.input else None,
            "generated": settings.input is None,
            "width": info.width,
            "height": info.height,
            "fps": float(info.rate),
            "frames_range": [start, stop],
            "degrade": described,
            "reference": str(settings.reference) if settings.reference else None,
        }
        options = MethodOptions(
            scale=settings.scale,
            steps=settings.steps,
            seed=settings.seed,
            synthetic_weights=settings.synthetic_weights,
            extra=dict(settings.extra),
        )
        results: list[MethodResult] = []
        for method_id in settings.methods:
            job = Job(
                input=src,
                output=out_dir / f"{method_id}.mp4",
                method=method_id,
                options=options,
                device=settings.device,
                dtype=settings.dtype,
                start=start,
                stop=stop,
            )
            result = bench_method(job, runner, settings.repeat, settings.warmup)
            _score(result, job.output, reference, start, stop, settings)
            results.append(result)
            if on_result:
                on_result(result)
        if settings.ffmpeg and ffmpeg_available():
            job = Job(
                src, out_dir / "ffmpeg-lanczos.mp4", "ffmpeg", options, start=start, stop=stop
            )
            result = bench_ffmpeg(job, settings.repeat, settings.warmup)
            _score(result, job.output, reference, start, stop, settings)
            results.append(result)
            if on_result:
                on_result(result)
        # Against real weights only: a synthetic span is another network.
        real = not settings.synthetic_weights
        if settings.ncnn and real and "span" in settings.methods and ncnn_available():
            from vsrup.bench.references import bench_ncnn_span

            job = Job(src, out_dir / "ncnn-span", "ncnn", options, start=start, stop=stop)
            result = bench_ncnn_span(job, settings.repeat, settings.warmup)
            results.append(result)
            if on_result:
                on_result(result)
        set_ratios(results)
        if input_info["frames_range"][1] is None and results and results[0].frames:
            input_info["frames_range"][1] = start + results[0].frames
        return BenchReport(settings, input_info, host_info(), results)


def _prepare_input(
    settings: BenchSettings, work: Path
) -> tuple[Path, Path | None, int, int | None, str | None]:
    """(clip the methods read, reference or None, start, stop, degradation description)."""
    from vsrup.bench.degrade import degrade_video
    from vsrup.video.synth import make_clip

    start, stop = settings.start, settings.stop
    src = settings.input
    if src is None:
        if settings.length < 1:
            raise UsageError("--length must be at least 1")
        w, h = settings.size
        if settings.degrade is not None:  # generate the GT so the LR clip has --size
            w, h = w * settings.degrade.scale, h * settings.degrade.scale
        if w < 2 or h < 2:
            raise UsageError(f"--size {w}x{h} is too small")
        # 4:2:0 needs even sizes; 4:4:4 keeps an odd --size exact.
        pix_fmt = "yuv420p" if w % 2 == 0 and h % 2 == 0 else "yuv444p"
        src = make_clip(work / "generated.mp4", width=w, height=h, frames=settings.length,
                        pix_fmt=pix_fmt)  # fmt: skip
    elif not src.exists():
        raise InputError("no such file", path=src)
    if settings.degrade is None:
        return src, settings.reference, start, stop, None
    lr, gt = work / "degraded-lr.mkv", work / "degraded-gt.mkv"
    degrade_video(src, lr, settings.degrade, gt_path=gt, start=start, stop=stop)
    return lr, gt, 0, None, settings.degrade.describe()


def _score(
    result: MethodResult,
    output: Path,
    reference: Path | None,
    start: int,
    stop: int | None,
    settings: BenchSettings,
) -> None:
    """Quality of the last run's output (untimed): against the reference when there is one,
    else its temporal scores alone."""
    from vsrup.metrics.frames import read_rgb
    from vsrup.metrics.report import evaluate_frames
    from vsrup.video.probe import probe_video

    if result.error is not None or not output.exists():
        return
    refs = None
    if reference is not None:
        ref_info = probe_video(reference)
        if result.output_size != (ref_info.width, ref_info.height):
            result.note = (
                f"not scored: output {result.output_size} differs from the reference "
                f"{ref_info.width}x{ref_info.height}"
            )
            return
        refs = read_rgb(reference, start, stop)
    if refs is None and not settings.temporal:
        return
    try:
        report = evaluate_frames(
            read_rgb(output), refs, crop_border=settings.scale, temporal=settings.temporal
        )
    except ValueError as exc:
        result.note = f"not scored: {exc}"
        return
    result.quality = report.means()
