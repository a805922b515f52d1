"""What `vsrup bench` times: one upscaling job, described by `Job`, run by a `Runner`.

A `Runner` is any callable `runner(job) -> frames written` that decodes `job.input` (frames
`job.start` to `job.stop`), upscales with `job.method`, and encodes `job.output`, calling
`StageTimer` for its stages and building the method through the registry class's
`from_weights` (which the bench instruments). `vsrup upscale`'s engine pipeline is the real
runner; `local_runner` below is a small stand-in used until that pipeline is available in this
build: frame windows without overlap, no tiling, no colour fix, no audio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vsrup.methods.base import MethodOptions

Runner = Callable[["Job"], int]


@dataclass
class Job:
    input: Path
    output: Path
    method: str
    options: MethodOptions = field(default_factory=MethodOptions)
    device: str = "auto"
    dtype: str = "auto"
    start: int = 0
    stop: int | None = None


def _window_length(n: int, window: int, alignment: int) -> int:
    """Frames to feed for a chunk of n real frames: n itself, or the next `alignment*k + 1`."""
    if window <= 1 or alignment <= 1:
        return n
    return ((max(n, 1) - 1 + alignment - 1) // alignment) * alignment + 1


def local_runner(job: Job) -> int:
    """Decode -> method -> encode, frame windows of `spec.window` (stand-in for the engine)."""
    import numpy as np
    import torch

    from vsrup import methods
    from vsrup.bench.timing import StageTimer, timed_iter
    from vsrup.engine.runtime import resolve_runtime
    from vsrup.engine.tiles import pad_to
    from vsrup.errors import MethodError
    from vsrup.metrics.frames import RgbWriter, probe, read_rgb

    cls = methods.get(job.method)
    spec = cls.spec
    if spec.weights and not job.options.synthetic_weights:
        raise MethodError(
            f"{job.method} needs weights, which this build's bench runner cannot load",
            hint="use --synthetic-weights tiny|full to time the architecture",
        )
    runtime = resolve_runtime(job.device, job.dtype, spec.dtypes, seed=job.options.seed)
    method = cls.from_weights(None, runtime, job.options)
    device = runtime.torch_device
    window = max(1, spec.window)

    def encode(y: torch.Tensor, writer: RgbWriter) -> None:
        with StageTimer("encode"):
            out = (y.clamp(0, 1) * 255).round().to(torch.uint8)
            for frame in out.permute(0, 2, 3, 1).cpu().numpy():
                writer.write(frame)

    def run(chunk: list[Any], writer: RgbWriter) -> None:
        n = len(chunk)
        with StageTimer("decode"):  # uint8 HWC -> float TCHW on the device is decoding work
            x = torch.from_numpy(np.stack(chunk)).permute(0, 3, 1, 2).to(device)
            x = x.to(torch.float32) / 255.0
        need = _window_length(n, window, spec.alignment)
        if need > n:  # repeat the last frame up to a length the method accepts
            x = torch.cat([x, x[-1:].expand(need - n, -1, -1, -1)])
        x, (h, w) = pad_to(x, spec.size_multiple, spec.min_size)
        y = method.process(methods.Clip(x))
        s = y.shape[-1] // x.shape[-1]
        encode(y[:n, :, : h * s, : w * s], writer)

    def stream(writer: RgbWriter) -> int:
        count = 0
        chunk: list[Any] = []
        for frame in timed_iter("decode", read_rgb(job.input, job.start, job.stop)):
            chunk.append(frame)
            count += 1
            if len(chunk) == window:
                run(chunk, writer)
                chunk = []
        if count == 0:
            raise MethodError("no frames in the chosen range", path=job.input)
        if chunk:
            run(chunk, writer)
        tail = method.flush()
        if tail is not None:
            encode(tail, writer)
        return count

    writer = RgbWriter(job.output, fps=probe(job.input).fps)
    try:
        with torch.inference_mode():
            count = stream(writer)
    except BaseException:
        writer.close(ok=False)
        raise
    with StageTimer("encode"):  # the encoder's look-ahead frames are encoded here
        writer.close()
    return count
