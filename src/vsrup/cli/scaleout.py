"""`vsrup upscale ... --workers N` / `--ray ADDRESS`: the distributed run's CLI side.

One aggregated progress bar (frames of all files, fps, ETA; files and segments finished in
its label), one line per finished file, and with `--json` the same one object per input as
a single-process run, plus `{"event": "segment", ...}` lines as segments finish.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from vsrup.cli.common import error_line, info, warn
from vsrup.errors import EXIT_RUNTIME


def pool_options(workers: int | None, address: str | None, device: str) -> Any:
    """Workers: as asked, else one per GPU here, else one (on a CPU, one worker using every
    core was faster than two sharing them: docs/scaleout.md)."""
    import torch

    from vsrup.scaleout.pool import PoolOptions

    gpus = torch.cuda.device_count() if device in ("auto", "cuda") else 0
    use_gpu = device.startswith("cuda") or (device == "auto" and gpus > 0)
    n = workers if workers is not None else (gpus or 1)
    env: dict[str, str] = {}
    if not use_gpu and address is None:  # N processes share this machine's cores
        env["OMP_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // n))
    for name in ("HF_HOME", "HF_HUB_OFFLINE", "VSRUP_HOME"):  # the same weights everywhere
        if name in os.environ:
            env[name] = os.environ[name]
    return PoolOptions(workers=n, address=address, gpus_per_worker=1.0 if use_gpu else 0.0,
                       env=env)  # fmt: skip


def run_scaled(jobs: list, options: Any, report: Any, view: Any, method: str,
               results: list) -> int:  # fmt: skip
    """Run `jobs` on the pool; append (src, dst, status, note) to `results`; worst exit."""
    from vsrup.engine.pipeline import Progress
    from vsrup.scaleout.driver import run_distributed

    totals = {"frames": 0, "done": 0, "files": 0, "segments": 0, "segments_done": 0}
    t0 = time.perf_counter()
    label = f"{len(jobs)} file(s) on {options.workers} worker(s)"
    view.start(label)

    def on_event(ev: Any) -> None:
        if ev.event == "prepared":
            totals["frames"] += ev.frames
        elif ev.event == "segment":
            totals["done"] += ev.frames
            totals["segments_done"] += 1
            if report is not None:
                report.write(json.dumps({"event": "segment", "input": ev.input,
                                         "segment": ev.segment, "frames": ev.frames,
                                         "seconds": round(ev.seconds, 3),
                                         "worker": ev.worker}))  # fmt: skip
        elif ev.event == "file":
            totals["files"] += 1
            info(f"wrote {ev.output} ({ev.frames} frames in {ev.seconds:.1f} s)")
        elif ev.event == "retry":
            warn(f"{ev.input}: segment {ev.segment}: {ev.error}; given to another worker")
        elif ev.event == "failed":
            error_line(f"{ev.input}: {ev.error}")
        view.relabel(f"{label}: {totals['files']}/{len(jobs)} files, "
                     f"{totals['segments_done']} segments")  # fmt: skip
        view.update(Progress(totals["done"], totals["frames"], time.perf_counter() - t0))

    try:
        states = run_distributed(jobs, options, on_event)
    finally:
        view.stop()
    worst = 0
    for st in states:
        src, dst = Path(st.job.input), Path(st.job.output)
        if st.result is not None:
            r = st.result
            results.append((src, dst, "ok", f"{r.frames} frames {r.width}x{r.height}"))
            if report is not None:
                report.emit(src, dst, method, "ok", result=r)
        else:
            reason = st.error or "not finished"
            results.append((src, dst, "failed", reason))
            worst = EXIT_RUNTIME
            if report is not None:
                report.emit(src, dst, method, "failed", error=reason)
    return worst
