"""Segments as units of work: plan them, render any of them alone, list the finished ones,
stitch the output. `run_job` is this in one process (plan → render every unfinished segment
in one pass → stitch); a distributed run (issue 23) renders segments in workers that each
keep a loaded method, and gets byte-identical segments, because

- segment boundaries depend only on the frame index (`ResumeStore.segment_frames`);
- methods are stateless between windows (noise from (seed, position), context frames from
  the engine), and a segment rendered alone plans windows exactly as a full run does (it
  takes the input from frame 0 and stops once its frames are out: `StreamOptions.stop_at`;
  `frames_from` decodes only frame 0 and the frames its windows read, `first_needed` on);
- each segment is encoded by a fresh encoder configured like the final stream.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vsrup.engine.resume import ResumeStore, Segment
from vsrup.engine.scheduler import StreamOptions, StreamResult, run_stream
from vsrup.engine.segment_writer import SegmentTarget, SegmentWriter

if TYPE_CHECKING:
    import torch

    from vsrup.engine.runtime import Runtime
    from vsrup.interface.method import Method, MethodSpec


@dataclass(frozen=True)
class SegmentPlan:
    """One unit of work, picklable and self-describing."""

    job: str  # the job key (its directory is `store`)
    store: str
    input: str
    method: str
    index: int
    first: int
    last: int  # exclusive
    #: Input frames before `first` the method reads (context and blended overlap): a worker
    #: that seeks must start decoding at `first - context` at the latest. (Segments rendered
    #: by `render_segments` read from frame 0, which is always enough.)
    context: int


def plan_segments(store: ResumeStore, total: int, spec: MethodSpec) -> list[SegmentPlan]:
    """Every segment of a job whose output has `total` frames."""
    n = store.segment_frames
    context = spec.context + max(spec.window, 1) + spec.overlap
    return [
        SegmentPlan(
            job=store.key,
            store=str(store.directory),
            input=str(store.identity.get("input")),
            method=str(store.identity.get("method")),
            index=i,
            first=first,
            last=min(first + n, total),
            context=min(context, first),
        )
        for i, first in enumerate(range(0, total, n))
    ]


def finished(store: ResumeStore) -> list[Segment]:
    return store.finished()


def unfinished(store: ResumeStore, plan: list[SegmentPlan]) -> list[SegmentPlan]:
    done = {s.first for s in store.finished()}
    return [p for p in plan if p.first not in done]


def render_segments(
    frames: Iterable[tuple[torch.Tensor, Any]],
    method: Method,
    store: ResumeStore,
    target: SegmentTarget,
    *,
    first: int,
    last: int | None = None,
    runtime: Runtime | None = None,
    options: StreamOptions | None = None,
    on_frame: Any = None,
) -> StreamResult:
    """Render the output frames [first, last) (None: to the end) into finished segments.

    `first` must be a segment boundary; `frames` is the decoded input from frame 0 (what it
    yields before the windows reaching `first` is read and dropped). Segments are written
    atomically, so rendering one again (a retried worker) replaces it with identical data.
    """
    if first % store.segment_frames:
        raise ValueError(f"{first} is not a segment boundary ({store.segment_frames} frames)")
    opts = options or StreamOptions()
    opts.resume_from, opts.stop_at = first, last
    writer = SegmentWriter(store, target, first=first)

    def sink(frame: Any, pts: Any) -> None:
        writer.write(frame, pts)
        if on_frame is not None:
            on_frame()

    try:
        result = run_stream(frames, method, sink, runtime, opts)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return result


def first_needed(spec: MethodSpec, options: StreamOptions, first: int) -> int:
    """The first input frame whose pixels output frames [first, …) depend on, for a method
    whose windows are planned from the frame index alone; `first` itself when nothing
    earlier is read. Windows finishing a frame at or after the temporal stage's warm-up
    start (`first - context`) start at most one window length before it, and read
    `spec.context` frames before their start."""
    warm = first - (options.temporal.context if options.temporal is not None else 0)
    length = max(options.batch, 1) if spec.window <= 1 else (options.window or spec.window)
    return max(warm - length - spec.context, 0)


def can_seek(method: Method) -> bool:
    """Whether a segment's input may be read from `first_needed` on: not for methods fed
    motion segments (their boundaries depend on every earlier frame) nor whole-video ones."""
    return not method.spec.uses_segments and not method.whole_video()


def seekable(reader: Any) -> bool:
    """Whether frame indices of `reader` can be reached by a seek: the whole file is selected
    (no --frames/--start: indices would be relative to the selection) and decoding errors are
    fatal (with --ignore-errors a skipped frame would shift every later index). Only video
    files seek; an image sequence is read from its first image."""
    from vsrup.video.reader import VideoReader

    if not isinstance(reader, VideoReader):
        return False
    return bool(reader.range.is_all and not reader.ignore_errors)


def reader_from(reader: Any, start: int) -> Any:
    """A reader of the same file yielding frames [start, …), reached by a seek to the
    keyframe before `start` (`reader` itself for start 0)."""
    if start <= 0:
        return reader
    from vsrup.video.reader import FrameRange, VideoReader

    return VideoReader(reader.path, batch=reader.batch, frame_range=FrameRange(start=start),
                       ignore_errors=reader.ignore_errors, info=reader.info)  # fmt: skip


def frames_from(reader: Any, needed: int) -> Iterator[tuple[Any, Any]]:
    """The input as `render_segments` takes it (frame 0 onwards), decoding only frame 0 (a
    method's `begin` reads it) and frames from `needed` on: the ones between are stand-ins
    (frame 0 again, no timestamp) that no computed window reads, so a segment late in a long
    video (a worker's, or a resumed run's) does not decode everything before it. `reader`
    must be `seekable`."""
    head = reader.integer_frames()
    frame0, pts0 = next(head)
    yield frame0, pts0
    if needed <= 1:
        yield from head
        return
    head.close()
    for _ in range(1, needed):
        yield frame0, None
    yield from reader_from(reader, needed).integer_frames()


def segment_input(reader: Any, method: Method, options: StreamOptions, first: int) -> Iterator:
    """The decoded input for rendering output frames [first, …) with `method`: from frame 0,
    or (resume, a distributed worker) frame 0 and then only what the windows read, reached by
    a seek, where the method and the reader allow it."""
    if first and can_seek(method) and seekable(reader):
        return frames_from(reader, first_needed(method.spec, options, first))
    return reader.integer_frames()


def render_direct(
    reader: Any,
    sink: Any,
    kernel: str,
    store: ResumeStore,
    target: SegmentTarget,
    *,
    first: int,
    last: int | None = None,
    on_progress: Any = None,
) -> tuple[int, dict[str, float]]:
    """The direct classical path (`engine.direct`) into segments: output frames [first, last)
    (None: to the end) resampled by swscale and encoded per segment like every other
    method's frames."""
    from vsrup.engine.direct import run_direct

    if first % store.segment_frames:
        raise ValueError(f"{first} is not a segment boundary ({store.segment_frames} frames)")
    writer = SegmentWriter(store, target, first=first)
    try:
        # A resampler reads nothing before its frame: decode from `first` on (a seek).
        start = first if seekable(reader) else 0
        result = run_direct(reader_from(reader, start), sink, kernel, on_progress, out=writer,
                            first=first, last=last, decoded_from=start)  # fmt: skip
        writer.close()
    except BaseException:
        writer.abort()
        raise
    return result


def stitch(store: ResumeStore, target: SegmentTarget, total: int | None = None) -> int:
    """Mux every segment into the final writer (`target`, not yet closed); frames muxed."""
    return store.stitch(target.mux_packets, total)
