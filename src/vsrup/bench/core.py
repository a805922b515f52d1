"""Benchmark one method on one clip: warm-up, timed repeats, stages, memory, quality."""

from __future__ import annotations

import platform
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vsrup.bench.memory import PeakMemory
from vsrup.bench.runner import Job, Runner
from vsrup.engine.runtime import is_oom
from vsrup.util.timing import StageTotal, recording, synchronize


@dataclass
class RunTiming:
    """One timed run. `seconds` is the whole run; `load` is the part spent building the method."""

    seconds: float
    frames: int
    stages: list[tuple[str, StageTotal]]
    peak_rss: int | None
    peak_vram: int | None = None
    peak_vram_reserved: int | None = None

    @property
    def load(self) -> float:
        return sum(t.seconds for n, t in self.stages if n == "load")

    @property
    def fps(self) -> float:
        """End-to-end frames per second, model loading excluded."""
        busy = self.seconds - self.load
        return self.frames / busy if busy > 0 else float("inf")


@dataclass
class MethodResult:
    method: str
    device: str = "cpu"
    dtype: str = "fp32"
    frames: int = 0
    output_size: tuple[int, int] | None = None
    runs: list[RunTiming] = field(default_factory=list)
    warmup: int = 0
    quality: dict[str, float | None] | None = None
    error: str | None = None
    exit_code: int = 0
    note: str | None = None
    #: Frames/s relative to this run's reference row ("1.08× ffmpeg-lanczos"), if any.
    versus: str | None = None

    def mean(self, attr: str) -> float | None:
        values = [getattr(r, attr) for r in self.runs]
        return sum(values) / len(values) if values else None

    def stage_means(self) -> list[tuple[str, float, int, str | None]]:
        """(stage, mean seconds per run, calls per run, parent) in pipeline order."""
        if not self.runs:
            return []
        order: list[str] = []
        info: dict[str, tuple[float, int, str | None]] = {}
        for run in self.runs:
            for name, total in run.stages:
                if name not in info:
                    order.append(name)
                    info[name] = (0.0, 0, total.parent)
                s, c, p = info[name]
                info[name] = (s + total.seconds, c + total.calls, p)
        n = len(self.runs)
        out = [(k, info[k][0] / n, info[k][1] // n, info[k][2]) for k in order]
        # Time outside every top-level stage (setup, probing, Python glue), so the stages
        # visibly add up to the run time.
        staged = sum(sec for _, sec, _, parent in out if parent is None)
        other = (self.mean("seconds") or 0.0) - staged
        if out and other > 0:
            out.append(("other", other, 1, None))
        return out

    def peak(self, attr: str) -> int | None:
        values = [getattr(r, attr) for r in self.runs if getattr(r, attr) is not None]
        return max(values) if values else None


def _resolved(job: Job) -> tuple[str, str]:
    """The device and dtype the job will run with (as the pipeline resolves them)."""
    from vsrup import methods
    from vsrup.engine.runtime import resolve_runtime

    spec = methods.get(job.method).spec
    rt = resolve_runtime(job.device, job.dtype, spec.dtypes)
    return rt.device, rt.dtype_name


def count_frames(path: Path) -> int:
    from vsrup.metrics.frames import read_rgb

    return sum(1 for _ in read_rgb(path))


def timed_run(job: Job, runner: Runner, device: str) -> RunTiming:
    sync = device if device.startswith("cuda") or device == "mps" else None
    with recording(sync_device=sync) as rec, PeakMemory(device) as mem:
        t0 = time.perf_counter()
        frames = runner(job)
        if sync is not None:
            synchronize(sync)
        seconds = time.perf_counter() - t0
    if frames is None:  # the runner could not say: count what it wrote (not timed)
        frames = count_frames(job.output)
    return RunTiming(
        seconds=seconds,
        frames=frames,
        stages=rec.ordered(),
        peak_rss=mem.peak_rss,
        peak_vram=mem.peak_vram,
        peak_vram_reserved=mem.peak_vram_reserved,
    )


def bench_method(job: Job, runner: Runner, repeat: int = 1, warmup: int = 1) -> MethodResult:
    """Run `job` `warmup` times untimed, then `repeat` times timed. Errors end up in the
    result (so one failing method does not hide the others' numbers)."""
    from vsrup.errors import VsrupError

    result = MethodResult(method=job.method, warmup=warmup)
    try:
        result.device, result.dtype = _resolved(job)
        for _ in range(warmup):
            timed_run(job, runner, result.device)
        for _ in range(repeat):
            result.runs.append(timed_run(job, runner, result.device))
    except VsrupError as exc:
        result.error, result.exit_code = exc.render(), exc.exit_code
        return result
    except Exception as exc:  # noqa: BLE001 - reported per method, the others still run
        if is_oom(exc):
            result.error, result.exit_code = f"out of memory: {exc}".splitlines()[0], 1
            return result
        raise
    result.frames = result.runs[-1].frames if result.runs else 0
    result.output_size = _size(job.output)
    return result


def _size(path: Path) -> tuple[int, int] | None:
    from vsrup.video.probe import probe_video as probe

    try:
        info = probe(path)
    except Exception:  # noqa: BLE001 - informative only
        return None
    return info.width, info.height


def ffmpeg_available() -> str | None:
    return shutil.which("ffmpeg")


def ffmpeg_runner(job: Job) -> None:
    """ffmpeg's own lanczos scaler as a reference row: decode, scale, x264 encode in one
    process (its threads on all cores). Returns None: the frames are counted afterwards."""
    from vsrup.errors import EncodeError
    from vsrup.video.probe import probe_video as probe
    from vsrup.video.writer import EncodeSettings, encoder_options

    exe = ffmpeg_available()
    if exe is None:
        raise EncodeError("ffmpeg is not on PATH")
    s = job.options.scale
    # BT.709 limited range, tagged: what the bench's own outputs carry, so the reader decodes
    # both with the same matrix (an untagged HD file would be read as BT.709 anyway).
    chain = [f"scale=iw*{s}:ih*{s}:flags=lanczos:out_color_matrix=bt709:out_range=tv"]
    if job.start or job.stop is not None:
        end = f":end_frame={job.stop}" if job.stop is not None else ""
        chain.insert(0, f"trim=start_frame={job.start}{end},setpts=PTS-STARTPTS")
    cmd = [exe, "-nostdin", "-v", "error", "-y", "-i", str(job.input), "-an", "-sn"]
    # The encoder settings `vsrup upscale` uses by default, so the rows compare like for like.
    x264 = encoder_options("libx264", EncodeSettings())
    cmd += ["-vf", ",".join(chain), "-c:v", "libx264", "-crf", x264["crf"]]
    cmd += ["-preset", x264["preset"]]
    if "x264-params" in x264:  # the same instruction-set cap as vsrup's encoder
        cmd += ["-x264-params", x264["x264-params"]]
    # The same pixel format the bench runner's encoder picks, so quality rows compare fairly.
    info = probe(job.input)
    even = (info.width * s) % 2 == 0 and (info.height * s) % 2 == 0
    cmd += ["-pix_fmt", "yuv420p" if even else "yuv444p", "-colorspace", "bt709"]
    cmd += ["-color_primaries", "bt709", "-color_trc", "bt709", "-color_range", "tv"]
    cmd += [str(job.output)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise EncodeError(f"ffmpeg failed: {proc.stderr.strip().splitlines()[-1:]}")
    return None


def bench_ffmpeg(job: Job, repeat: int = 1, warmup: int = 1) -> MethodResult:
    from vsrup.errors import VsrupError

    result = MethodResult(method="ffmpeg-lanczos", device="cpu", dtype="-", warmup=warmup)
    result.note = "ffmpeg -vf scale=flags=lanczos, libx264 as ours (reference)"
    try:
        for _ in range(warmup):
            ffmpeg_runner(job)
        for _ in range(repeat):
            run = timed_run(job, ffmpeg_runner, "cpu")  # type: ignore[arg-type]
            run.stages = [("ffmpeg", StageTotal(seconds=run.seconds, calls=1))]
            run.peak_rss = None  # ours, not the ffmpeg child's: not meaningful here
            result.runs.append(run)
    except VsrupError as exc:
        result.error, result.exit_code = exc.render(), exc.exit_code
        return result
    result.frames = result.runs[-1].frames if result.runs else 0
    result.output_size = _size(job.output)
    return result


def host_info() -> dict[str, Any]:
    import os

    import torch

    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        info["load_average"] = None
    return info


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
