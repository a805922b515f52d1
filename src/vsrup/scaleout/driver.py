"""The driver of a distributed run: prepare every file on the workers, render their
unfinished segments on the workers (longest first), stitch each file by stream copy as soon
as its last segment is in.

The job's resume store is the shared state: workers write finished segments into it, so a
killed worker loses at most the segment it was rendering, and a killed driver's rerun
prepares the files again (same identity, same store) and renders only what is missing.
Stores live under `--work-dir` (default: the vsrup cache), which for several machines must
be a filesystem they all see.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vsrup.engine import pipeline as pl
from vsrup.scaleout.pool import PoolEvent, PoolOptions, RayPool, WorkItem
from vsrup.scaleout.tasks import FilePlan, PrepareTask, SegmentTask


@dataclass
class FileState:
    job: pl.UpscaleJob
    plan: FilePlan | None = None
    store: Any = None  # ResumeStore, claimed by the driver
    pending: set[int] = field(default_factory=set)  # segment indices not yet finished
    plans: list[Any] = field(default_factory=list)  # SegmentPlan of every segment
    error: str = ""
    result: pl.JobResult | None = None
    started: float = field(default_factory=time.perf_counter)


@dataclass
class RunEvent:
    """One line of progress for the CLI (`--json` prints these)."""

    event: str  # prepared | segment | file | failed | retry
    input: str
    output: str = ""
    segment: int | None = None
    frames: int = 0
    seconds: float = 0.0
    error: str = ""
    worker: int | None = None


Report = Callable[[RunEvent], None]


def run_distributed(
    jobs: list[pl.UpscaleJob],
    options: PoolOptions,
    on_event: Report | None = None,
    factory: Callable[[], Any] | None = None,
) -> list[FileState]:
    """Upscale `jobs` on a pool of workers; returns each file's final state."""
    from vsrup.scaleout.worker import SegmentWorker

    report = on_event or (lambda _e: None)
    for job in jobs:
        _check_job(job)
    files = [FileState(job) for job in jobs]
    with RayPool(factory or SegmentWorker, options) as pool:
        prep = [WorkItem(f"p{i}", _size(f.job.input), PrepareTask(f.job))
                for i, f in enumerate(files)]  # fmt: skip
        for ev in pool.run(prep):
            _on_prepared(files[int(ev.key[1:])], ev, report)
        items = []
        for i, f in enumerate(files):
            if f.plan is None:
                continue
            items += _segment_items(i, f)
            if not f.pending:  # every segment was finished by an earlier run
                _stitch(f, report)
        for ev in pool.run(items):
            i, index = (int(x) for x in ev.key[1:].split(":"))
            _on_segment(files[i], index, ev, report)
    return files


def _check_job(job: pl.UpscaleJob) -> None:
    from vsrup.errors import UsageError

    if pl.is_sequence_output(Path(job.output)):
        raise UsageError("--workers/--ray write video files; give a video output",
                         path=job.output)  # fmt: skip
    if not job.checkpoint:
        raise UsageError("--workers/--ray work through the segment store: drop --no-checkpoint")


def _size(path: Path) -> float:
    try:
        return float(Path(path).stat().st_size)
    except OSError:
        return 0.0


def _on_prepared(f: FileState, ev: PoolEvent, report: Report) -> None:
    from vsrup.engine.resume import ResumeStore
    from vsrup.engine.segments import plan_segments, unfinished
    from vsrup.interface import registry

    if ev.kind == "failed":
        f.error = ev.error
        report(RunEvent("failed", str(f.job.input), str(f.job.output), error=ev.error))
        return
    if ev.kind != "done":
        return
    f.plan = ev.result
    f.store = ResumeStore.open(f.plan.identity, work_root=f.job.work_dir)
    plan = plan_segments(f.store, f.plan.total, registry.get(f.job.method).spec)
    f.pending = {p.index for p in unfinished(f.store, plan)}
    f.plans = plan
    report(RunEvent("prepared", str(f.job.input), str(f.job.output), frames=f.plan.total))


def _segment_items(i: int, f: FileState) -> list[WorkItem]:
    assert f.plan is not None
    pixels = f.plan.width * f.plan.height
    return [
        WorkItem(
            f"s{i}:{p.index}", (p.last - p.first) * pixels, SegmentTask(f.job, f.plan.identity, p)
        )  # fmt: skip
        for p in f.plans
        if p.index in f.pending
    ]


def _on_segment(f: FileState, index: int, ev: PoolEvent, report: Report) -> None:
    src, out = str(f.job.input), str(f.job.output)
    if ev.kind == "retry":
        report(RunEvent("retry", src, out, segment=index, error=ev.error, worker=ev.worker))
    elif ev.kind == "failed":
        f.error = f.error or ev.error
        report(RunEvent("failed", src, out, segment=index, error=ev.error, worker=ev.worker))
    elif ev.kind == "done":
        f.pending.discard(index)
        report(RunEvent("segment", src, out, segment=index, frames=int(ev.result or 0),
                        seconds=ev.seconds, worker=ev.worker))  # fmt: skip
        if not f.pending and not f.error:
            _stitch(f, report)


def _stitch(f: FileState, report: Report) -> None:
    """The file from its segments: stream copy plus the input's other tracks, atomically."""
    from vsrup.errors import VsrupError
    from vsrup.video.output import AtomicOutput

    job, plan = f.job, f.plan
    assert plan is not None
    warnings = list(plan.warnings)
    try:
        from vsrup.engine.resume import ResumeStore

        f.store = ResumeStore.open(plan.identity, work_root=job.work_dir)  # workers' segments
        reader = pl.open_source(job, 1, warnings.append)
        with AtomicOutput(job.output, overwrite=job.overwrite, inputs=(job.input,)) as temp:
            sink = pl.open_sink(job, reader, plan.width, plan.height, temp, warnings.append)
            try:
                frames = f.store.stitch(sink.mux_packets, plan.total)
                sink.close()
            except BaseException:
                sink.abort()
                raise
    except (VsrupError, OSError, ValueError) as err:
        f.store.release()
        f.error = str(err).splitlines()[0]
        report(RunEvent("failed", str(job.input), str(job.output), error=f.error))
        return
    f.store.remove()
    seconds = time.perf_counter() - f.started
    f.result = pl.JobResult(input=job.input, output=job.output, frames=frames,
                            width=plan.width, height=plan.height, seconds=seconds,
                            warnings=warnings)  # fmt: skip
    report(RunEvent("file", str(job.input), str(job.output), frames=frames, seconds=seconds))
