"""Seconds per frame and peak VRAM for stablevsr/dgaf at the papers' REDS4 size (GPU).

Full-size models with random weights (`--synthetic-weights full`), LR 320×180 → 1280×720,
one window of N frames. Usage (on a CUDA machine):

    python tools/bench/stablevsr_reds4.py --method stablevsr --frames 12 --steps 50 --dtype fp16

The papers report ~16.6 GB on a V100 for DGAF-VSR on REDS4 (whole 100-frame sequences).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


def main() -> None:
    import torch

    from vsrup.interface.method import Clip, MethodOptions
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import get

    ap = argparse.ArgumentParser()
    ap.add_argument("--method", default="stablevsr", choices=["stablevsr", "dgaf"])
    ap.add_argument("--frames", type=int, default=12)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--dtype", default="fp16", choices=["fp16", "bf16", "fp32"])
    ap.add_argument("--opt", action="append", default=[], help="key=value method option")
    args = ap.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA device")
    extra = dict(o.split("=", 1) for o in args.opt)
    runtime = Runtime(device="cuda", dtype_name=args.dtype)
    opts = MethodOptions(synthetic_weights="full", steps=args.steps, extra=extra)
    t0 = time.perf_counter()
    method = get(args.method).from_weights(None, runtime, opts)
    load_s = time.perf_counter() - t0
    frames = torch.rand(args.frames, 3, 180, 320, device="cuda")
    torch.cuda.reset_peak_memory_stats()
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = method.process(Clip(frames=frames))
    torch.cuda.synchronize()
    run_s = time.perf_counter() - t0
    report = {
        "method": args.method,
        "dtype": args.dtype,
        "frames": args.frames,
        "steps": args.steps,
        "output": list(out.shape),
        "load_s": round(load_s, 1),
        "s_per_frame": round(run_s / args.frames, 2),
        "peak_vram_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "device": torch.cuda.get_device_name(),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
