"""The direct path for classical resamplers on the CPU: decoder → libswscale → encoder.

A classical method on the CPU is one swscale call per frame. When nothing else in the engine
has work to do (no colour fix, no temporal stage, a video file out at the encoder's exact size),
the decoded frame goes to swscale in its own pixel format and comes out at the output size
in the encoder's pixel format, in one call: the same work as
`ffmpeg -i IN -vf scale=W:H:flags=lanczos OUT`, so the same speed, with no RGB round trip and
nothing in float. Decoding runs ahead in a background thread; the encoder threads itself.
The frames go to the resume store's segments like every other method's (`SegmentWriter`,
same encoder settings, same segment boundaries), so a classical run resumes too.

The colours are those of the engine's RGB path: the source's matrix (or the one players
assume) in and out, its range kept. Chroma is resampled at its own resolution, as ffmpeg does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from vsrup.util.timing import StageTimer, timed_iter
from vsrup.video.scale import SWS_KERNELS


def direct_kernel(method: Any, runtime: Any) -> str | None:
    """The swscale kernel of a classical method on the CPU, else None."""
    kernel = getattr(method, "kernel", None)
    spec = getattr(method, "spec", None)
    if spec is None or spec.kind != "classical" or kernel not in SWS_KERNELS:
        return None
    return kernel if getattr(runtime, "device", "cpu") == "cpu" else None


def eligible(method: Any, runtime: Any, reader: Any, sink: Any, *, color_fix: str) -> str | None:
    """The kernel to run directly, or None when the general engine loop is needed."""
    from vsrup.video.reader import VideoReader
    from vsrup.video.writer import VideoWriter

    kernel = direct_kernel(method, runtime)
    if kernel is None or color_fix != "none":
        return None
    if not isinstance(reader, VideoReader) or not isinstance(sink, VideoWriter):
        return None
    if (sink.enc_w, sink.enc_h) != (sink.width, sink.height):
        return None  # edge padding for 4:2:0 is the RGB path's job
    return kernel


def run_direct(
    reader: Any,
    sink: Any,
    kernel: str,
    on_progress: Callable[[int], None] | None = None,
    prefetch: int = 8,
    *,
    out: Any = None,
    first: int = 0,
    last: int | None = None,
    decoded_from: int = 0,
) -> tuple[int, dict[str, float]]:
    """Resample every selected frame of `reader` into `sink`'s format; returns the number of
    frames finished and the seconds per stage. The frames go to `out.write_frame` (None: the
    sink itself); frames before `first` are finished already (resume) and only decoded, and
    output stops before frame `last` (None: the end; one segment of a distributed run).
    `decoded_from`: the index of `reader`'s first frame (a reader that starts with a seek)."""
    from av.video.reformatter import VideoReformatter

    from vsrup.engine.prefetch import background
    from vsrup.video.reader import sws_matrix

    stop = threading.Event()
    scaler = VideoReformatter()
    src_matrix = sws_matrix(reader.matrix)
    dst_matrix = sws_matrix(sink.matrix)
    timings: dict[str, float] = {}  # seconds per stage; the same calls feed `vsrup bench`
    out = sink if out is None else out
    done = 0
    skipped = decoded_from
    frames = background(timed_iter("decode", reader.av_frames()), prefetch, stop)
    try:
        for frame in timed_iter("decode_wait", frames, timings):
            if skipped < first:
                skipped += 1
                continue
            with StageTimer("method", timings):
                scaled = scaler.reformat(
                    frame,
                    sink.width,
                    sink.height,
                    format=sink.pix_fmt,
                    src_colorspace=src_matrix,
                    dst_colorspace=dst_matrix,
                    interpolation=SWS_KERNELS[kernel],
                    src_color_range=frame.color_range or None,
                    dst_color_range=sink.range,
                )
            with StageTimer("encode", timings):
                out.write_frame(scaled, frame.pts)
            done += 1
            if on_progress is not None:
                on_progress(first + done)
            if last is not None and first + done >= last:
                break
    finally:
        stop.set()
    return done, timings
