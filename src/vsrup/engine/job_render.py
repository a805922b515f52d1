"""A job's frames from the reader to the sink: the engine loop (`run_stream`), or the direct
swscale path for classical resamplers; through the resume store's segments when checkpointing.

`JobRender` also counts the frames finished, which an interrupt reports."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vsrup.engine.job import Progress, ProgressFn, UpscaleJob, WarnFn
from vsrup.util.timing import StageTimer, timed_iter

if TYPE_CHECKING:
    from vsrup.engine.scheduler import StreamOptions
    from vsrup.interface.method import Method


def interrupted_note(job: UpscaleJob, done: int, total: int, checkpointing: bool) -> str:
    """What an interrupt kept, when no finished frames were stored."""
    of = f"{done} of {total}" if total else f"{done}"
    if checkpointing:
        return (
            f"{job.input}: interrupted after {of} frames, before the first segment "
            "was finished: nothing to keep yet"
        )
    return (
        f"{job.input}: interrupted after {of} frames; nothing was kept (the output appears "
        "only when complete; without --no-checkpoint finished segments are kept)"
    )


@dataclass
class JobRender:
    job: UpscaleJob
    reader: Any  # VideoReader | ImageSequenceReader
    sink: Any  # VideoWriter | ImageSequenceWriter
    store: Any  # ResumeStore, or None without checkpointing
    target: Any  # what the store's segments are encoded for
    started: float  # perf_counter() when the job started
    on_progress: ProgressFn | None = None
    #: Frames finished so far.
    done: int = 0

    def progress(self, n: float) -> None:
        if self.on_progress is not None:
            total = self.reader.total
            self.on_progress(Progress(n, total, time.perf_counter() - self.started))

    def write(self, frame: Any, pts: Any) -> None:
        # Already quantised (uint8, or uint16 when bits > 8): straight to the encoder.
        with StageTimer("encode"):  # a no-op unless `vsrup bench` is recording
            self.sink.write_array(frame[None], [pts])
        self.done += 1

    def counted(self) -> None:
        self.done += 1

    def run(self, method: Method, runtime: Any, options: StreamOptions) -> dict[str, float]:
        """Render every frame and close the sink; returns the engine's timings."""
        from vsrup.engine.direct import eligible

        direct = None
        if options.temporal is None:  # the temporal stage needs the engine loop
            direct = eligible(method, runtime, self.reader, self.sink, color_fix=self.job.color_fix)
        if direct is not None:  # a classical resampler: decoder → swscale → encoder
            timings = self.run_direct(direct)
        else:
            timings = self.run_engine(method, runtime, options)
        with StageTimer("encode"):
            if self.store is not None:
                from vsrup.engine.segments import stitch

                self.done = stitch(self.store, self.target, self.done)
            self.sink.close()
        return timings

    def run_direct(self, direct: Any) -> dict[str, float]:
        from vsrup.engine.direct import run_direct

        def direct_progress(n: int) -> None:
            self.done = n  # frames finished so far (what an interrupt reports)
            self.progress(n)

        first = self.store.frames_done if self.store is not None else 0
        if self.store is None:
            count, timings = run_direct(self.reader, self.sink, direct, direct_progress)
        else:
            from vsrup.engine.segments import render_direct

            count, timings = render_direct(
                self.reader, self.sink, direct, self.store, self.target, first=first,
                on_progress=direct_progress,
            )  # fmt: skip
        self.done = first + count
        return timings

    def run_engine(self, method: Method, runtime: Any, options: StreamOptions) -> dict[str, float]:
        from vsrup.engine.scheduler import run_stream
        from vsrup.engine.segments import render_segments, segment_input

        first = self.store.frames_done if self.store is not None else 0
        # A resumed run decodes what the unfinished segments' windows read, not the finished
        # part of the file.
        decoded = timed_iter("decode", segment_input(self.reader, method, options, first))
        if self.store is None:
            return run_stream(decoded, method, self.write, runtime, options).timings

        stream = render_segments(
            decoded, method, self.store, self.target, first=self.store.frames_done,
            runtime=runtime, options=options, on_frame=self.counted,
        )  # fmt: skip
        self.done = stream.frames
        return stream.timings

    def abort(self, exc: BaseException, warn: WarnFn) -> None:
        """Drop the unfinished output; say what was kept for the next run."""
        self.sink.abort()
        store = self.store
        if store is not None:
            store.release()
        if store is not None and store.frames_done:
            warn(f"{store.frames_done} finished frames are kept in {store.directory}; "
                 "rerun the same command to continue from them")  # fmt: skip
        elif store is not None and (store.directory / "latents").is_dir():
            warn(f"the sampling state is kept in {store.directory}; rerun the same command "
                 "to continue from it")  # fmt: skip
        elif isinstance(exc, KeyboardInterrupt):
            warn(interrupted_note(self.job, self.done, self.reader.total, store is not None))
