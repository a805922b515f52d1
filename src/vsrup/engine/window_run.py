"""One window through the method: tiles, size padding, the OOM fallback (and the exact-size
resize the scheduler applies to finished frames)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from vsrup.engine.frames import integer_chw, is_integer, to_unit_float
from vsrup.engine.resume import quantize
from vsrup.errors import MethodError

if TYPE_CHECKING:
    import torch

    from vsrup.engine.chunks import Window
    from vsrup.interface.method import Method, MethodSpec
    from vsrup.interface.runtime import Runtime
    from vsrup.video.scale import FrameScaler


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
