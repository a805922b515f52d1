"""The worker side of a distributed run: prepare files and render segments, keeping each
loaded method for the next task that needs the same one.

Everything a worker computes goes through the same engine functions as a single-process
`run_job` (`vsrup.engine.pipeline`, `vsrup.engine.segments.render_segments`), so a segment
rendered here is byte-identical to the one a single process writes.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from vsrup.engine import pipeline as pl
from vsrup.scaleout.tasks import FilePlan, PrepareTask, SegmentTask


@dataclass
class _Opened:
    reader: Any
    method: Any
    spec: Any
    runtime: Any
    scale: int
    out_w: int
    out_h: int
    sink: Any  # the throw-away writer: its encoder configuration is the final file's
    bits: int


class SegmentWorker:
    """`run(task)` for a `PrepareTask` (→ FilePlan) or a `SegmentTask` (→ frames written)."""

    def __init__(self) -> None:
        self._loaded: dict[tuple, tuple[Any, Any, Any]] = {}

    def run(self, task: PrepareTask | SegmentTask) -> Any:
        if isinstance(task, PrepareTask):
            return self.prepare(task.job)
        return self.render(task)

    # -- the method, loaded once per settings --------------------------------------------------
    def method(self, job: pl.UpscaleJob, scale: int) -> tuple[Any, Any, Any]:
        o = job.options
        key = (job.method, scale, job.device, job.dtype, job.offload, job.compile, job.vram,
               json.dumps(asdict(o), sort_keys=True, default=str))  # fmt: skip
        if key not in self._loaded:
            from vsrup.engine.runtime import seed_everything

            self._loaded.clear()  # one model at a time: a worker's memory is for one
            seed_everything(o.seed)  # as run_job: synthetic weights equal in every process
            self._loaded[key] = pl.load_method(job, scale)
        return self._loaded[key]

    # -- the steps ------------------------------------------------------------------------------
    @contextmanager
    def _open(self, job: pl.UpscaleJob, warn: Any) -> Iterator[_Opened]:
        """The file opened as a one-process run opens it, with a throw-away writer configured
        as the final one (segments are encoded by its `packet_encoder`); removed on exit."""
        from vsrup.interface import registry

        spec0 = registry.get(job.method).spec
        reader = pl.open_source(job, 1, warn)
        video = reader.video
        scale, out_w, out_h = pl.plan_output(spec0, video.width, video.height, job,
                                             video.rotation)  # fmt: skip
        reader.batch = pl.batch_size(spec0, out_w, out_h, job.batch)
        method, spec, runtime = self.method(job, scale)
        probe_dir = Path(tempfile.mkdtemp(prefix="vsrup-worker-"))
        try:
            sink = pl.open_sink(job, reader, out_w, out_h, probe_dir / f"probe{job.output.suffix}",
                                warn)  # fmt: skip
            try:
                bits = 16 if getattr(sink, "deep", reader.deep) else 8
                yield _Opened(reader, method, spec, runtime, scale, out_w, out_h, sink, bits)
            finally:
                sink.abort()
        finally:
            shutil.rmtree(probe_dir, ignore_errors=True)

    def prepare(self, job: pl.UpscaleJob) -> FilePlan:
        warnings: list[str] = []
        with self._open(job, warnings.append) as f:
            settings = pl.job_settings(job, f.spec, f.runtime, f.out_w, f.out_h, f.bits, f.scale)
            settings["method_state"] = f.method.resume_settings()
            identity, _ = pl.store_identity(job, f.spec, settings, f.sink, f.out_w, f.out_h)
            return FilePlan(identity, f.reader.total, f.out_w, f.out_h, warnings)

    def render(self, task: SegmentTask) -> int:
        from vsrup.engine.direct import eligible
        from vsrup.engine.resume import ResumeStore
        from vsrup.engine.segments import render_direct, render_segments, segment_input

        job, seg = task.job, task.segment
        store = ResumeStore.open(task.identity, work_root=job.work_dir, claim=False)
        if any(s.first == seg.first and s.count == seg.last - seg.first
               for s in store.finished()):  # fmt: skip
            return 0  # finished by an earlier attempt whose result was lost with its worker
        with self._open(job, lambda _msg: None) as f:
            options = pl.stream_options(job, f.spec, f.out_w, f.out_h, f.bits)
            # The same path a one-process run takes: a classical resampler straight from the
            # decoder to the encoder, everything else through the engine loop.
            kernel = None
            if options.temporal is None:
                kernel = eligible(f.method, f.runtime, f.reader, f.sink, color_fix=job.color_fix)
            if kernel is not None:
                render_direct(f.reader, f.sink, kernel, store, f.sink, first=seg.first,
                              last=seg.last)  # fmt: skip
            else:
                # Decode only what this segment's windows read, not the file up to it.
                frames = segment_input(f.reader, f.method, options, seg.first)
                render_segments(frames, f.method, store, f.sink,
                                first=seg.first, last=seg.last, runtime=f.runtime,
                                options=options)  # fmt: skip
            return seg.last - seg.first
