"""Drive a method over a stream of frames: plan → compute → blend → colour fix → quantise.

`run_stream` is the engine's core loop, independent of file formats. It takes decoded frames
(an iterable of ((C, H, W) tensor, pts): uint8/uint16 as decoded, or float in [0, 1]) and a
sink that receives finished output frames ((H, W, C) uint8/uint16 numpy array, pts) in order,
and in between:

1. decodes ahead in a background thread (bounded queue), so reading overlaps compute;
2. segments by motion (methods with `uses_segments`) and plans temporal windows as frames
   arrive (`WindowPlanner`), never needing the total frame count;
3. runs the method per window, through spatial tiles when the spec asks for them (with the
   OOM fallback that halves the tile), with size padding to the method's multiple/minimum;
4. blends window overlaps (`StreamingBlender`), resizes to the exact output size (libswscale
   Lanczos on the CPU, like ffmpeg's), runs the temporal-consistency stage when asked
   (`TemporalStabilizer`, per-frame methods), applies the colour fix against the input frame,
   quantises once (so stored and fresh frames are the same integers);
5. hands finished frames to the sink through a second background thread (bounded queue), so
   encoding overlaps compute too (the sink is the resume store's segment writer or the
   output writer itself).

Only a bounded number of frames is alive at any time: the decode queue, the input frames of
the current and next window, the blender's overlap, the encode queue. Integer frames are
converted to float only for methods that need floats (`MethodSpec.integer_frames` is False),
for the colour fix and for tiled runs; a classical method's frames stay integers end to end.

Resume: frames [0, F) are already finished elsewhere (`resume_from`, the segments of the
resume store); windows whose real frames all lie before F are skipped, the blender ignores
frames before F, and the sink receives frames from F on. With the temporal stage, the
`context` frames before F are recomputed too and pass through the stage without being emitted,
since its output depends on exactly that many preceding frames. A method whose output depends
only on its input window (and seed) therefore produces exactly the frames an uninterrupted run
would.
"""

from __future__ import annotations

import contextlib
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vsrup.engine.chunks import StreamingBlender, Window, WindowPlanner, planner_for_spec
from vsrup.engine.color import color_fix
from vsrup.engine.frames import integer_hwc, is_integer, stack_frames, to_unit_float
from vsrup.engine.latent_store import DEFAULT_SPILL_BYTES
from vsrup.engine.prefetch import BackgroundSink, background
from vsrup.engine.resume import quantize
from vsrup.engine.segment import MotionSegmenter, Segment
from vsrup.engine.stream_options import StreamOptions, StreamResult
from vsrup.engine.temporal import TemporalStabilizer
from vsrup.engine.window_run import feeds_integers, process_window, resize_exact
from vsrup.errors import MethodError
from vsrup.util.timing import StageTimer, timed_iter

if TYPE_CHECKING:
    import torch

    from vsrup.interface.method import Method
    from vsrup.interface.runtime import Runtime
    from vsrup.video.scale import FrameScaler

__all__ = ["Sink", "StreamOptions", "StreamResult", "run_stream"]

Sink = Callable[[np.ndarray, Any], None]


class _StreamRun:
    """The state one `run_stream` call shares between its stages: the frames alive, the
    planner and blender, progress and counters."""

    def __init__(
        self, method: Method, sink: Sink, runtime: Runtime | None, opts: StreamOptions
    ) -> None:
        spec = method.spec
        self.method, self.spec, self.runtime, self.opts = method, spec, runtime, opts
        self.resumed = opts.resume_from
        self.stop_at = opts.stop_at
        # Seconds per stage of this run; the same StageTimer calls feed `vsrup bench`.
        self.timings: dict[str, float] = {}
        self.writer = BackgroundSink(sink, opts.encode_queue)
        self.planner: WindowPlanner = planner_for_spec(
            spec, batch=opts.batch, overlap=opts.overlap, window=opts.window
        )
        self.segmenter = MotionSegmenter(opts.segment_config) if spec.uses_segments else None
        self.stage = TemporalStabilizer(opts.temporal) if opts.temporal is not None else None
        # The temporal stage is deterministic from its context: on resume, the frames just
        # before the stored ones are recomputed to refill it, and are not emitted again.
        stage = self.stage
        self.warm_from = max(self.resumed - stage.context, 0) if stage else self.resumed
        self.blender = StreamingBlender(start=self.warm_from)
        self.tile = opts.tile if opts.tile is not None else spec.tile
        self.scaler: FrameScaler | None = None  # the exact-size resize's swscale state
        self.inputs: dict[int, torch.Tensor] = {}
        self.pts_of: dict[int, Any] = {}
        self.done = self.resumed
        self.computed = 0
        self.count = 0  # frames read
        self.need_from = 0  # the next window starts here: inputs before it serve the colour fix
        self.shown = float(self.resumed)
        # Whole-video runs release their inputs as segments are handed over; the colour fix
        # and the temporal stage read them back from a spilling store (an appender, then a
        # store per shot).
        self.whole = method.whole_video()
        self.device = runtime.torch_device if runtime is not None else None
        self.refs: dict[str, Any] = {}
        self.shot_first = 0
        self.workdir = contextlib.ExitStack()

    # -- progress and finished frames ---------------------------------------------------

    def tell(self, frames: float) -> None:
        """Report progress, never backwards (a window's partial estimate may run ahead of
        the frames it finishes one by one)."""
        if self.opts.on_progress is not None and frames >= self.shown:
            self.shown = frames
            self.opts.on_progress(frames)

    def partial_progress(self, win: Window) -> Callable[[float], None] | None:
        """Fractional frames while a window computes: the frames it makes final, scaled by
        how much of it is done, so progress moves within long diffusion windows."""
        if self.opts.on_progress is None:
            return None
        start, todo = self.done, max(win.done_before - self.done, 0)
        return lambda part: self.tell(start + part * todo)

    def reference(self, index: int) -> torch.Tensor:
        """Input frame `index` as float in [0, 1]."""
        if index in self.inputs:
            return to_unit_float(self.inputs[index])
        return self.refs["store"].read((index - self.refs["first"],))

    def stopped(self) -> bool:
        """Every wanted frame is out (a run asked to stop at a frame index)."""
        return self.stop_at is not None and self.done >= self.stop_at

    def finish_frames(self, finished: list[tuple[int, torch.Tensor]]) -> None:
        """Exact size, temporal stage, colour fix, quantise; then to the writer."""
        opts = self.opts
        for index, out in finished:
            if self.stop_at is not None and index >= self.stop_at:
                continue
            if opts.out_size is not None and tuple(out.shape[-2:]) != opts.out_size:
                with StageTimer("blend", self.timings):
                    out = self.exact_size(out, opts.out_size)
            if self.stage is not None:
                with StageTimer("temporal", self.timings):
                    out = self.stage.push(self.reference(index), out, opts.bits)
                if index < self.resumed:  # context for the stage only: already stored
                    continue
            with StageTimer("blend", self.timings):
                if opts.color_fix != "none":
                    ref = self.reference(index)
                    out = color_fix(to_unit_float(out)[None], ref[None], opts.color_fix)[0]
                if is_integer(out):  # nothing needed floats: straight to the encoder's form
                    q = integer_hwc(out[None], opts.bits)[0]
                else:
                    q = quantize(out[None], opts.bits)[0]
            self.writer.put(q, self.pts_of[index])
            self.done = index + 1
            self.tell(self.done)

    def exact_size(self, out: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
        """The frame at `--width/--height` when the native scale does not give it."""
        if self.scaler is None and out.device.type == "cpu":
            from vsrup.video.scale import FrameScaler

            self.scaler = FrameScaler("lanczos")
        return resize_exact(out, *size, self.opts.bits, self.scaler)

    # -- windowed methods ---------------------------------------------------------------

    def release(self) -> None:
        # Inputs that no later window reads and no unfinished frame needs for its colour fix.
        keep_from = min(self.need_from - self.spec.context, self.blender.next_frame)
        for i in [i for i in self.inputs if i < keep_from]:
            del self.inputs[i]
            self.pts_of.pop(i, None)

    def run_windows(self, windows: list[Window]) -> None:
        spec = self.spec
        for win in windows:
            self.need_from = win.done_before
            if win.end <= self.warm_from or self.stop_at is not None and win.start >= self.stop_at:
                self.release()
                continue  # every real frame of this window is finished or not wanted
            before = list(range(max(win.start - spec.context, 0), win.start))
            clip = stack_frames([self.inputs[i] for i in (*before, *win.indices)])
            if not feeds_integers(spec, self.tile, *clip.shape[-2:]):
                clip = to_unit_float(clip)
            with StageTimer("method", self.timings):
                out = process_window(
                    self.method, clip, win, self.runtime, self.tile, self.opts.on_warning,
                    self.opts.tile_overlap, on_fraction=self.partial_progress(win),
                )  # fmt: skip
            self.computed += 1
            if out.shape[0] != win.length:
                raise MethodError(
                    f"{spec.id} returned {out.shape[0]} frames for a window of {win.length}"
                )
            with StageTimer("blend", self.timings):
                finished = self.blender.add(win, out)
            self.finish_frames(finished)
            self.release()

    # -- whole-video methods ------------------------------------------------------------

    def add_whole(self, seg: Segment) -> None:
        """Whole-video mode: hand one closed segment to the method (a scene cut may first
        end the current shot)."""
        from vsrup.interface.method import Clip

        opts = self.opts
        if opts.shots and "scene-change" in seg.reason and seg.start > self.shot_first:
            self.finish_shot(seg.start)
        clip = to_unit_float(stack_frames([self.inputs[i] for i in range(seg.start, seg.end)]))
        with StageTimer("method", self.timings):
            on_device = clip if self.device is None else clip.to(self.device)
            self.method.add_segment(Clip(on_device, start=seg.start))
        if opts.color_fix != "none" or self.stage is not None:
            if "appender" not in self.refs:
                from vsrup.engine.latent_store import LatentAppender

                tmp = tempfile.TemporaryDirectory(prefix="vsrup-")
                where = Path(self.workdir.enter_context(tmp))
                spill = opts.spill_bytes or DEFAULT_SPILL_BYTES
                self.refs["appender"] = LatentAppender(
                    clip.shape[1:], where / "refs.f32", spill_bytes=spill
                )
            self.refs["appender"].append(clip)
        for i in range(seg.start, seg.end):
            del self.inputs[i]

    def finish_shot(self, end: int) -> None:
        refs = self.refs
        if "appender" in refs:
            refs["store"], refs["first"] = refs.pop("appender").finish(), self.shot_first
        skip = max(self.warm_from - self.shot_first, 0)  # the temporal stage's context too
        index = self.shot_first + skip
        for out in timed_iter("method", self.method.finish_video(skip), self.timings):
            self.finish_frames([(index, out)])
            index += 1
        if index != max(end, self.resumed):
            raise MethodError(f"{self.spec.id} returned frames up to {index}, expected {end}")
        self.computed += 1
        self.shot_first = end

    # -- the input side -----------------------------------------------------------------

    def closed_segments(self, segments: list[Segment]) -> None:
        for seg in segments:
            if self.whole:
                self.add_whole(seg)
            else:
                self.run_windows(self.planner.add_segment(seg.start, seg.end))

    def add_frame(self, frame: torch.Tensor, pts: Any) -> None:
        """Take the next decoded frame: segment, plan and run whatever it completes."""
        index = self.count
        self.count += 1
        if index == 0:
            note = self.method.begin(to_unit_float(frame))
            if note and self.opts.on_info is not None:
                self.opts.on_info(note)
        self.inputs[index] = frame
        self.pts_of[index] = pts
        if self.segmenter is not None:
            with StageTimer("segmentation"):
                closed = self.segmenter.push(
                    frame.permute(1, 2, 0).numpy() if is_integer(frame) else frame
                )
            self.closed_segments(closed)
        elif self.whole:  # a whole-video method without segments takes frames as they come
            self.add_whole(Segment(index, index + 1, "frame"))
        else:
            self.run_windows(self.planner.add_frames(1))

    def read(self, source: Iterable[tuple[torch.Tensor, Any]]) -> None:
        # The time the loop waits for the background decoder (decoding on the critical path).
        for frame, pts in timed_iter("decode_wait", source, self.timings):
            self.add_frame(frame, pts)
            if self.stopped():
                break

    def finish_input(self) -> None:
        """The input has ended (or every wanted frame is out): run what is left, check counts."""
        if self.stopped():
            pass  # every wanted frame is out: no need to read or plan the rest
        elif self.segmenter is not None:
            with StageTimer("segmentation"):
                last = self.segmenter.finish()
            self.closed_segments(last)
        if not self.stopped():
            if self.whole:
                if self.count:
                    self.finish_shot(self.count)
            else:
                self.run_windows(self.planner.finish())
            self.finish_frames(self.blender.finish())
        with StageTimer("method", self.timings):
            extra = self.method.flush()
        if extra is not None and extra.shape[0] > 0:
            raise MethodError(f"{self.spec.id} returned {extra.shape[0]} frames after the last one")
        if self.count < self.resumed:
            raise MethodError(f"the input has {self.count} frames but {self.resumed} were stored")

    def result(self) -> StreamResult:
        return StreamResult(
            frames=max(self.done, self.resumed),
            resumed_from=self.resumed,
            windows_computed=self.computed,
            segmentation=self.segmenter.result() if self.segmenter is not None else None,
            timings=self.timings,
        )


def run_stream(
    frames: Iterable[tuple[torch.Tensor, Any]],
    method: Method,
    sink: Sink,
    runtime: Runtime | None = None,
    options: StreamOptions | None = None,
) -> StreamResult:
    """Upscale a stream of (frame, pts) into `sink`; see the module docstring."""
    run = _StreamRun(method, sink, runtime, options or StreamOptions())
    stop = threading.Event()
    try:
        run.read(background(frames, run.opts.prefetch, stop))
        run.finish_input()
    finally:
        stop.set()
        run.workdir.close()
        # Always drain the writer: frames already handed over reach the sink.
        run.writer.close()
    return run.result()
