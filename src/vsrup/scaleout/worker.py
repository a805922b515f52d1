"""The worker side of a distributed run: prepare files and render segments, keeping each
loaded method for the next task that needs the same one.

Everything a worker computes goes through the same engine functions as a single-process
`run_job` (`vsrup.engine.pipeline`, `vsrup.engine.segments.render_segments`), so a segment
rendered here is byte-identical to the one a single process writes.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from vsrup.engine import pipeline as pl
from vsrup.scaleout.tasks import FilePlan, PrepareTask, SegmentTask


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
    def _open(self, job: pl.UpscaleJob, warn: Any) -> tuple[Any, ...]:
        """Reader, method, spec, runtime, output size and a throw-away writer configured as
        the final one (segments are encoded by its `packet_encoder`)."""
        from vsrup.interface import registry

        spec0 = registry.get(job.method).spec
        reader = pl.open_source(job, 1, warn)
        video = reader.video
        scale, out_w, out_h = pl.plan_output(spec0, video.width, video.height, job,
                                             video.rotation)  # fmt: skip
        reader.batch = pl.batch_size(spec0, out_w, out_h, job.batch)
        method, spec, runtime = self.method(job, scale)
        probe_dir = Path(tempfile.mkdtemp(prefix="vsrup-worker-"))
        probe = probe_dir / f"probe{job.output.suffix}"
        sink = pl.open_sink(job, reader, out_w, out_h, probe, warn)
        return reader, method, spec, runtime, scale, out_w, out_h, sink, probe_dir

    def prepare(self, job: pl.UpscaleJob) -> FilePlan:
        warnings: list[str] = []
        reader, method, spec, runtime, scale, out_w, out_h, sink, probe_dir = self._open(
            job, warnings.append
        )
        try:
            bits = 16 if getattr(sink, "deep", reader.deep) else 8
            settings = pl.job_settings(job, spec, runtime, out_w, out_h, bits, scale)
            settings["method_state"] = method.resume_settings()
            identity, _ = pl.store_identity(job, spec, settings, sink, out_w, out_h)
            return FilePlan(identity, reader.total, out_w, out_h, warnings)
        finally:
            sink.abort()
            _remove(probe_dir)

    def render(self, task: SegmentTask) -> int:
        from vsrup.engine.direct import eligible
        from vsrup.engine.resume import ResumeStore
        from vsrup.engine.segments import render_direct, render_segments

        job, seg = task.job, task.segment
        store = ResumeStore.open(task.identity, work_root=job.work_dir, claim=False)
        if any(s.first == seg.first and s.count == seg.last - seg.first
               for s in store.finished()):  # fmt: skip
            return 0  # finished by an earlier attempt whose result was lost with its worker
        reader, method, spec, runtime, _, out_w, out_h, sink, probe_dir = self._open(
            job, lambda _msg: None
        )
        try:
            bits = 16 if getattr(sink, "deep", reader.deep) else 8
            options = pl.stream_options(job, spec, out_w, out_h, bits)
            # The same path a one-process run takes: a classical resampler straight from the
            # decoder to the encoder, everything else through the engine loop.
            kernel = None
            if options.temporal is None:
                kernel = eligible(method, runtime, reader, sink, color_fix=job.color_fix)
            if kernel is not None:
                render_direct(reader, sink, kernel, store, sink, first=seg.first, last=seg.last)
            else:
                render_segments(pl.frames_of(reader), method, store, sink, first=seg.first,
                                last=seg.last, runtime=runtime, options=options)  # fmt: skip
            return seg.last - seg.first
        finally:
            sink.abort()
            _remove(probe_dir)


def _remove(directory: Path) -> None:
    import shutil

    shutil.rmtree(directory, ignore_errors=True)
