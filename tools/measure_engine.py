"""Measure the engine: pipeline overhead share of wall time, and peak RSS.

    python tools/measure_engine.py --width 1280 --height 720 --frames 48 --method bicubic
    python tools/measure_engine.py --width 320 --height 180 --frames 600   # long clip, RSS

Generates a clip with vsrup.video.synth, runs one `run_job`, and prints wall time, the
method's share, what the rest went to, and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=1280)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--frames", type=int, default=48)
    ap.add_argument("--method", default="bicubic")
    ap.add_argument("--scale", type=float, default=2)
    ap.add_argument("--codec", default="libx264")
    ap.add_argument("--color-fix", default="none")
    ap.add_argument("--checkpoint", action="store_true")
    args = ap.parse_args()

    from vsrup.engine.pipeline import UpscaleJob, run_job
    from vsrup.video.synth import make_clip
    from vsrup.video.writer import EncodeSettings

    with tempfile.TemporaryDirectory() as tmp:
        src = make_clip(
            Path(tmp) / "in.mp4", width=args.width, height=args.height, frames=args.frames
        )
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        job = UpscaleJob(
            input=src,
            output=Path(tmp) / "out.mkv",
            method=args.method,
            scale=args.scale,
            encode=EncodeSettings(codec=args.codec),
            device="cpu",
            color_fix=args.color_fix,
            checkpoint=args.checkpoint,
            work_dir=Path(tmp) / "work" if args.checkpoint else None,
        )
        t0 = time.perf_counter()
        result = run_job(job)
        wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t = result.timings
    print(f"clip {args.width}x{args.height} x{args.frames} frames, {args.method} x{args.scale:g}")
    print(f"wall {wall:.2f} s, {result.frames / wall:.2f} fps")
    for key, value in t.items():
        print(f"  {key:12s} {value:7.2f} s  {100 * value / wall:5.1f} %")
    print(f"overhead (all but the method) {100 * (1 - t.get('method', 0) / wall):.1f} % of wall")
    print(f"peak RSS {peak:.0f} MiB (before the job: {rss_before:.0f} MiB)")


if __name__ == "__main__":
    main()
