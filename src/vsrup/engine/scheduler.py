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
import queue
import tempfile
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vsrup.engine.chunks import StreamingBlender, Window, WindowPlanner, planner_for_spec
from vsrup.engine.color import color_fix
from vsrup.engine.frames import integer_chw, integer_hwc, is_integer, stack_frames, to_unit_float
from vsrup.engine.latent_store import DEFAULT_SPILL_BYTES
from vsrup.engine.prefetch import background
from vsrup.engine.resume import quantize
from vsrup.engine.segment import MotionSegmenter, Segment, Segmentation, SegmentConfig
from vsrup.engine.temporal import TemporalConfig, TemporalStabilizer
from vsrup.errors import MethodError
from vsrup.util.timing import StageTimer

if TYPE_CHECKING:
    import torch

    from vsrup.interface.method import Method, MethodSpec
    from vsrup.interface.runtime import Runtime
    from vsrup.video.scale import FrameScaler

Sink = Callable[[np.ndarray, Any], None]
_END = object()


@dataclass
class StreamOptions:
    color_fix: str = "none"
    #: Frames per call for per-frame methods (window 1).
    batch: int = 1
    #: Override the method's temporal overlap.
    overlap: int | None = None
    #: `--window N`: override the method's temporal window (frames).
    window: int | None = None
    #: Motion segmentation settings for methods that use segments.
    segment_config: SegmentConfig = field(default_factory=SegmentConfig)
    #: Output bit depth: 8 → uint8 frames, more → uint16.
    bits: int = 8
    #: Spatial tile override (input pixels); None: the spec's advice or the VRAM suggestion.
    tile: int | None = None
    #: Exact output (height, width) when the method's native scale does not give it.
    out_size: tuple[int, int] | None = None
    #: Overlap between spatial tiles (input pixels); None: the spec's.
    tile_overlap: int | None = None
    #: Frames decoded ahead / finished frames waiting for the encoder.
    prefetch: int = 8
    encode_queue: int = 8
    #: Output frames [0, resume_from) are finished already (resume): not computed, not sent.
    resume_from: int = 0
    #: Stop once frames before this index are finished (one segment rendered on its own);
    #: the frames are those a full run gives, since windows are planned the same way.
    stop_at: int | None = None
    #: Temporal-consistency stage for per-frame methods (None: off).
    temporal: TemporalConfig | None = None
    #: Frames finished so far; fractional while a window is being computed.
    on_progress: Callable[[float], None] | None = None
    on_warning: Callable[[str], None] | None = None
    #: Lines for the user that are not warnings (e.g. the prompt a method derived).
    on_info: Callable[[str], None] | None = None
    #: Whole-video methods: start an independent run at every scene-change cut.
    shots: bool = False
    #: Whole-video methods: host RAM for the colour-fix references before they spill to disk.
    spill_bytes: int | None = None


@dataclass
class StreamResult:
    frames: int
    resumed_from: int
    windows_computed: int
    segmentation: Segmentation | None
    timings: dict[str, float]


class _Writer:
    """Feeds the sink from a daemon thread; errors surface on the next put() or close()."""

    def __init__(self, sink: Sink, size: int) -> None:
        self._q: queue.Queue[Any] = queue.Queue(maxsize=max(size, 1))
        self._error: BaseException | None = None
        self._sink = sink
        self._thread = threading.Thread(target=self._work, name="vsrup-encode", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._q.get()
            if item is _END:
                return
            if self._error is None:
                try:
                    self._sink(*item)
                except BaseException as exc:
                    self._error = exc

    def put(self, frame: np.ndarray, pts: Any) -> None:
        if self._error is not None:
            raise self._error
        self._q.put((frame, pts))

    def close(self) -> None:
        self._q.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error


def resize_exact(
    frame: torch.Tensor, height: int, width: int, bits: int, scaler: FrameScaler | None = None
) -> torch.Tensor:
    """(C, H, W) to an exact size with Lanczos (native scale ≠ requested size).

    On the CPU through libswscale on integers, as ffmpeg would (a float frame is quantised to
    `bits` first: it would be at the end anyway); on a GPU with the torch Lanczos in float."""
    if frame.device.type == "cpu":
        from vsrup.video.scale import FrameScaler, resize_frames

        if not is_integer(frame):
            frame = integer_chw(quantize(frame[None], bits)[0])
        return resize_frames(frame[None], height, width, scaler or FrameScaler("lanczos"))[0]
    from vsrup.util.resize import resize

    return resize(to_unit_float(frame[None]), height, width, "lanczos")[0]


def feeds_integers(spec: MethodSpec, tile: int | None, height: int, width: int) -> bool:
    """Whether the method gets the decoded integers as they are: it must accept them, and the
    engine must have no float work to do on its input (tiles are blended in float)."""
    whole = max(height, width, spec.min_size)
    untiled = tile is None or tile >= whole
    unpadded = spec.size_multiple == 1 and min(height, width) >= spec.min_size
    return spec.integer_frames and untiled and unpadded


def process_window(
    method: Method,
    frames: torch.Tensor,
    window: Window,
    runtime: Runtime | None,
    tile: int | None,
    on_warning: Callable[[str], None] | None = None,
    tile_overlap: int | None = None,
    on_fraction: Callable[[float], None] | None = None,
) -> torch.Tensor:
    """Run the method on one window's input (T, C, H, W), tiled if asked, padded to the
    method's size multiple and minimum, with the OOM fallback; returns (T, C, H*s, W*s).
    Context frames (`spec.context`) may precede the window's own frames in `frames`; their
    outputs are dropped.

    `on_fraction(f)` hears how much of the window is done (0..1): tiles, and inside each tile
    the sampling steps the method reports (`vsrup.util.steps`)."""
    from vsrup.engine.runtime import run_with_oom_fallback
    from vsrup.engine.tiles import tiled_apply
    from vsrup.interface.method import Clip
    from vsrup.util.steps import listening_to_steps

    spec = method.spec
    device = runtime.torch_device if runtime is not None else frames.device
    where = {"tile": 0, "tiles": 1}
    context = frames.shape[0] - window.length

    def report(part: float) -> None:
        if on_fraction is not None:
            on_fraction(min((where["tile"] + part) / where["tiles"], 1.0))

    def on_tile(index: int, count: int) -> None:
        where.update(tile=index, tiles=count)
        report(0.0)

    def fn(x: torch.Tensor) -> torch.Tensor:
        clip = Clip(
            frames=x.to(device),
            start=window.start - context,
            segment_starts=window.segment_starts,
            context=context,
        )
        listener = (lambda done, total: report(done / max(total, 1))) if on_fraction else None
        with listening_to_steps(listener):
            return method.process(clip)

    h, w = frames.shape[-2:]
    want = (h * method.scale, w * method.scale)
    whole = max(h, w, spec.min_size)

    def tiled(t: int) -> torch.Tensor:
        if t >= whole:  # the whole frame in one call
            return tiled_apply(fn, frames, whole + spec.size_multiple, 0, scale=method.scale,
                               multiple=spec.size_multiple, min_size=spec.min_size,
                               on_tile=on_tile)  # fmt: skip
        # Methods that never tile by design get an eighth of the tile as blended overlap.
        overlap = spec.tile_overlap or t // 8 if tile_overlap is None else tile_overlap
        return tiled_apply(fn, frames, t, min(overlap, t // 2), scale=method.scale,
                           multiple=spec.size_multiple, min_size=spec.min_size,
                           on_tile=on_tile)  # fmt: skip

    def told(old: int, new: int) -> None:
        if on_warning is not None:
            on_warning(f"out of device memory with {old}px tiles; retrying with {new}px")

    # Every method starts at its tile (--tile, --vram, the spec's advice) or the whole frame,
    # and an out-of-memory error halves the tile until it fits.
    start = whole if tile is None or tile >= whole else tile
    floor = max(spec.size_multiple * 2, min(32, start), spec.min_size)
    out = run_with_oom_fallback(
        tiled, start, min_tile=floor, multiple=spec.size_multiple, on_retry=told
    )
    if tuple(out.shape[-2:]) != want:
        raise MethodError(f"{spec.id} returned {tuple(out.shape[-2:])}, expected {want}")
    return out[context:]


def run_stream(
    frames: Iterable[tuple[torch.Tensor, Any]],
    method: Method,
    sink: Sink,
    runtime: Runtime | None = None,
    options: StreamOptions | None = None,
) -> StreamResult:
    """Upscale a stream of (frame, pts) into `sink`; see the module docstring."""
    import time

    opts = options or StreamOptions()
    spec = method.spec
    resumed = opts.resume_from
    stop_at = opts.stop_at
    timings = {"method": 0.0, "wait_decode": 0.0, "blend_color": 0.0, "temporal": 0.0}
    stop = threading.Event()
    writer = _Writer(sink, opts.encode_queue)
    planner: WindowPlanner = planner_for_spec(
        spec, batch=opts.batch, overlap=opts.overlap, window=opts.window
    )
    segmenter = MotionSegmenter(opts.segment_config) if spec.uses_segments else None
    stage = TemporalStabilizer(opts.temporal) if opts.temporal is not None else None
    # The temporal stage is deterministic from its context: on resume, the frames just before
    # the stored ones are recomputed to refill it, and are not emitted again.
    warm_from = max(resumed - stage.context, 0) if stage is not None else resumed
    blender = StreamingBlender(start=warm_from)
    tile = opts.tile if opts.tile is not None else spec.tile
    scaler: FrameScaler | None = None  # the exact-size resize's swscale state, made once

    inputs: dict[int, torch.Tensor] = {}
    pts_of: dict[int, Any] = {}
    done = resumed
    computed = 0
    need_from = 0  # the next window starts here: inputs before it serve only the colour fix

    shown = [float(resumed)]

    def tell(frames: float) -> None:
        """Report progress, never backwards (a window's partial estimate may run ahead of
        the frames it finishes one by one)."""
        if opts.on_progress is not None and frames >= shown[0]:
            shown[0] = frames
            opts.on_progress(frames)

    # Whole-video runs release their inputs as segments are handed over; the colour fix and
    # the temporal stage read them back from a spilling store (an appender, then a store per
    # shot).
    refs: dict[str, Any] = {}

    def reference(index: int) -> torch.Tensor:
        """Input frame `index` as float in [0, 1]."""
        if index in inputs:
            return to_unit_float(inputs[index])
        return refs["store"].read((index - refs["first"],))

    def finish_frames(finished: list[tuple[int, torch.Tensor]]) -> None:
        nonlocal done, scaler
        for index, out in finished:
            if stop_at is not None and index >= stop_at:
                continue
            t0 = time.perf_counter()
            if opts.out_size is not None and tuple(out.shape[-2:]) != opts.out_size:
                if scaler is None and out.device.type == "cpu":
                    from vsrup.video.scale import FrameScaler

                    scaler = FrameScaler("lanczos")
                out = resize_exact(out, *opts.out_size, opts.bits, scaler)
            if stage is not None:
                t1 = time.perf_counter()
                out = stage.push(reference(index), to_unit_float(out))
                spent = time.perf_counter() - t1
                timings["temporal"] += spent
                t0 += spent  # not part of blend_color
                if index < resumed:  # context for the stage only: already stored
                    continue
            if opts.color_fix != "none":
                ref = reference(index)
                out = color_fix(to_unit_float(out)[None], ref[None], opts.color_fix)[0]
            if is_integer(out):  # nothing needed floats: straight to the encoder's form
                q = integer_hwc(out[None], opts.bits)[0]
            else:
                q = quantize(out[None], opts.bits)[0]
            timings["blend_color"] += time.perf_counter() - t0
            writer.put(q, pts_of[index])
            done = index + 1
            tell(done)

    def release() -> None:
        # Inputs that no later window reads and no unfinished frame needs for its colour fix.
        keep_from = min(need_from - spec.context, blender.next_frame)
        for i in [i for i in inputs if i < keep_from]:
            del inputs[i]
            pts_of.pop(i, None)

    def partial_progress(win: Window) -> Callable[[float], None] | None:
        """Fractional frames while a window computes: the frames it makes final, scaled by
        how much of it is done, so progress moves within long diffusion windows."""
        if opts.on_progress is None:
            return None
        start, todo = done, max(win.done_before - done, 0)
        return lambda part: tell(start + part * todo)

    def run_windows(windows: list[Window]) -> None:
        nonlocal computed, need_from
        for win in windows:
            need_from = win.done_before
            if win.end <= warm_from or stop_at is not None and win.start >= stop_at:
                release()
                continue  # every real frame of this window is finished or not wanted
            before = list(range(max(win.start - spec.context, 0), win.start))
            clip = stack_frames([inputs[i] for i in (*before, *win.indices)])
            if not feeds_integers(spec, tile, *clip.shape[-2:]):
                clip = to_unit_float(clip)
            t0 = time.perf_counter()
            out = process_window(
                method, clip, win, runtime, tile, opts.on_warning, opts.tile_overlap,
                on_fraction=partial_progress(win),
            )  # fmt: skip
            timings["method"] += time.perf_counter() - t0
            computed += 1
            if out.shape[0] != win.length:
                raise MethodError(
                    f"{spec.id} returned {out.shape[0]} frames for a window of {win.length}"
                )
            t0 = time.perf_counter()
            finished = blender.add(win, out)
            timings["blend_color"] += time.perf_counter() - t0
            finish_frames(finished)
            release()

    whole = method.whole_video()
    device = runtime.torch_device if runtime is not None else None
    shot = {"first": 0}
    workdir = contextlib.ExitStack()

    def add_whole(seg: Segment) -> None:
        """Whole-video mode: hand one closed segment to the method (a scene cut may first
        end the current shot)."""
        from vsrup.interface.method import Clip

        if opts.shots and "scene-change" in seg.reason and seg.start > shot["first"]:
            finish_shot(seg.start)
        clip = to_unit_float(stack_frames([inputs[i] for i in range(seg.start, seg.end)]))
        t0 = time.perf_counter()
        method.add_segment(Clip(clip if device is None else clip.to(device), start=seg.start))
        timings["method"] += time.perf_counter() - t0
        if opts.color_fix != "none" or stage is not None:
            if "appender" not in refs:
                from vsrup.engine.latent_store import LatentAppender

                tmp = Path(workdir.enter_context(tempfile.TemporaryDirectory(prefix="vsrup-")))
                spill = opts.spill_bytes or DEFAULT_SPILL_BYTES
                refs["appender"] = LatentAppender(
                    clip.shape[1:], tmp / "refs.f32", spill_bytes=spill
                )
            refs["appender"].append(clip)
        for i in range(seg.start, seg.end):
            del inputs[i]

    def finish_shot(end: int) -> None:
        nonlocal computed
        if "appender" in refs:
            refs["store"], refs["first"] = refs.pop("appender").finish(), shot["first"]
        skip = max(warm_from - shot["first"], 0)  # the temporal stage's context too
        index = shot["first"] + skip
        t0 = time.perf_counter()
        for out in method.finish_video(skip):
            timings["method"] += time.perf_counter() - t0
            finish_frames([(index, out)])
            index += 1
            t0 = time.perf_counter()
        timings["method"] += time.perf_counter() - t0
        if index != max(end, resumed):
            raise MethodError(f"{spec.id} returned frames up to {index}, expected {end}")
        computed += 1
        shot["first"] = end

    def closed_segments(segments: list[Segment]) -> None:
        for seg in segments:
            if whole:
                add_whole(seg)
            else:
                run_windows(planner.add_segment(seg.start, seg.end))

    try:
        source = background(frames, opts.prefetch, stop)
        count = 0
        t_wait = time.perf_counter()
        for frame, pts in source:
            timings["wait_decode"] += time.perf_counter() - t_wait
            index = count
            count += 1
            if index == 0:
                note = method.begin(to_unit_float(frame))
                if note and opts.on_info is not None:
                    opts.on_info(note)
            inputs[index] = frame
            pts_of[index] = pts
            if segmenter is not None:
                with StageTimer("segmentation"):
                    closed = segmenter.push(
                        frame.permute(1, 2, 0).numpy() if is_integer(frame) else frame
                    )
                closed_segments(closed)
            elif whole:  # a whole-video method without segments takes frames as they come
                add_whole(Segment(index, index + 1, "frame"))
            else:
                run_windows(planner.add_frames(1))
            if stop_at is not None and done >= stop_at:
                break
            t_wait = time.perf_counter()
        if stop_at is not None and done >= stop_at:
            pass  # every wanted frame is out: no need to read or plan the rest
        elif segmenter is not None:
            with StageTimer("segmentation"):
                last = segmenter.finish()
            closed_segments(last)
        if stop_at is None or done < stop_at:
            if whole:
                if count:
                    finish_shot(count)
            else:
                run_windows(planner.finish())
            finish_frames(blender.finish())
        extra = method.flush()
        if extra is not None and extra.shape[0] > 0:
            raise MethodError(f"{spec.id} returned {extra.shape[0]} frames after the last one")
        if count < resumed:
            raise MethodError(f"the input has {count} frames but {resumed} were stored")
    finally:
        stop.set()
        workdir.close()
        # Always drain the writer: frames already handed over reach the sink.
        writer.close()
    return StreamResult(
        frames=max(done, resumed),
        resumed_from=resumed,
        windows_computed=computed,
        segmentation=segmenter.result() if segmenter is not None else None,
        timings=timings,
    )
