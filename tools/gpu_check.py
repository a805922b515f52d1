"""One-go GPU check: every method through `run_job` with synthetic weights, the OOM path, offload,
compile and NVENC, written to a JSON report compared with the reference GPU floors.

    python tools/gpu_check.py --out gpu_report.json            # on a CUDA machine
    python tools/gpu_check.py --dry-run --out /tmp/report.json  # CPU: tiny weights, tiny clip

Per method it runs these variants (each a whole `run_job`, with a fresh resume store):
  default   bf16/fp16 (the method's first dtype), NVENC h264 (libx264 in --dry-run)
  oom       `--vram 0.5`: a small starting tile, so the tiled/halving path runs
  offload   `--offload model`
  compile   `--compile` (diffusion methods only)
and records seconds, frames/s, per-stage engine timings, peak VRAM and the error if any.
Floors (reference/gpu-floors.md, H100): STCDiT-tiny 720p ≥ 3 fps, DLoRAL 2048² ≥ 1.5 fps;
`meets_floor` is filled for those two at full size.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
import traceback
from pathlib import Path

#: Output frames per second each method should reach at full size (None: no floor known).
FLOORS = {"stcdit": 3.0, "dloral": 1.5}
#: Full-size inputs (width, height, frames): STCDiT ×4 to 720p-ish, DLoRAL ×4 to 2048².
FULL_INPUT = {"stcdit": (320, 180, 33), "dloral": (512, 512, 8)}
DEFAULT_FULL = (320, 180, 17)
DRY_INPUT = (32, 24, 5)


def variants(kind: str, dry: bool) -> list[tuple[str, dict]]:
    out = [("default", {}), ("oom", {"vram": 0.5})]
    if kind != "classical":  # nothing to offload or compile in a resampler
        out.append(("offload", {"offload": "model"}))
    if kind == "diffusion" and not dry:
        out.append(("compile", {"compile": True}))
    return out


def run_one(method_id: str, variant: dict, clip: Path, work: Path, dry: bool) -> dict:
    import torch

    from vsrup import methods
    from vsrup.engine.pipeline import UpscaleJob, run_job
    from vsrup.interface.method import MethodOptions
    from vsrup.video.writer import EncodeSettings

    spec = methods.get(method_id).spec
    cuda = torch.cuda.is_available() and not dry
    dtype = "fp32" if not cuda else next((d for d in spec.dtypes if d != "fp32"), "fp32")
    steps = 1 if method_id == "dloral" else (2 if dry else None)
    synthetic = None if spec.kind == "classical" or not spec.weights else (
        "tiny" if dry else "full"
    )  # fmt: skip
    job = UpscaleJob(
        input=clip,
        output=work / f"{method_id}.mp4",
        method=method_id,
        scale=spec.scales[0],
        options=MethodOptions(steps=steps, synthetic_weights=synthetic),
        encode=EncodeSettings(codec="h264_nvenc" if cuda else "h264"),
        overwrite=True,
        device="cuda" if cuda else "cpu",
        dtype=dtype,
        work_dir=work / "jobs",
        **variant,
    )
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    warnings: list[str] = []
    row: dict = {"method": method_id, "dtype": dtype, **{k: v for k, v in variant.items()}}
    try:
        result = run_job(job, on_warning=warnings.append)
        row.update(ok=True, frames=result.frames, size=[result.width, result.height],
                   timings={k: round(v, 3) for k, v in result.timings.items()})  # fmt: skip
    except Exception as exc:  # a check reports failures, it does not stop at the first
        row.update(ok=False, error=f"{type(exc).__name__}: {exc}",
                   trace=traceback.format_exc(limit=3))  # fmt: skip
    seconds = time.perf_counter() - t0
    row["seconds"] = round(seconds, 3)
    if row.get("ok"):
        row["fps"] = round(row["frames"] / seconds, 3)
    row["peak_vram_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None
    row["warnings"] = warnings
    floor = FLOORS.get(method_id)
    if floor is not None and not dry and row.get("ok") and not variant:
        row["floor_fps"] = floor
        row["meets_floor"] = row["fps"] >= floor
    return row


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny weights, tiny clip")
    ap.add_argument("--methods", default="", help="comma-separated ids (default: all)")
    args = ap.parse_args(argv)

    from vsrup import methods
    from vsrup.video.synth import make_clip

    chosen = [m for m in args.methods.split(",") if m] or list(methods.ids())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for method_id in chosen:
            spec = methods.get(method_id).spec
            w, h, n = DRY_INPUT if args.dry_run else FULL_INPUT.get(method_id, DEFAULT_FULL)
            clip = make_clip(work / f"in_{w}x{h}x{n}.mp4", width=w, height=h, frames=n)
            for name, variant in variants(spec.kind, args.dry_run):
                row = run_one(method_id, variant, clip, work, args.dry_run)
                row["variant"] = name
                rows.append(row)
                status = "ok" if row["ok"] else f"FAILED {row['error']}"
                print(f"{method_id:10s} {name:8s} {row['seconds']:8.2f} s  {status}", flush=True)
    report = {"dry_run": args.dry_run, "floors": FLOORS, "runs": rows}
    args.out.write_text(json.dumps(report, indent=1))
    return report


if __name__ == "__main__":
    main()
