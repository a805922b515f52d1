"""Measure the temporal-consistency stage: quality and steadiness with and without it.

Clips: a camera moving over scikit-image photos (pan, zoom-in with a slow pan, and a pan that
rotates), the ground truth at GT size, the input made from it with antialiased bicubic
downscaling (×scale) and rounding to 8 bits (optionally Gaussian noise). Every method runs
through the engine's `run_stream` (exactly the `vsrup upscale` path minus the files), with
`--temporal off` and `on`, and is scored with `vsrup.metrics` against the GT: PSNR-Y (BT.601,
`scale` px border ignored), E_warp (DIS warping error ×1e3), luma flicker and tdiff.

    python tools/measure_temporal.py --methods lanczos,span --scale 2 --frames 24
    python tools/measure_temporal.py --speed --methods span --scale 2   # one 854×480 clip
    python tools/measure_temporal.py --clips bikes.mp4,carphone.mp4 --scale 2 --frames 24

`--clips` measures real footage instead of photos: `--frames` frames from `--start` of each clip
(cropped to a multiple of the scale) are the ground truth, degraded the same way. `--crf N`
adds an H.264 round trip of the input (4:2:0, as footage is delivered); `--gt-row` also scores
the ground truth itself (its own warping error: E_warp rewards softness, see docs/temporal.md).

    python tools/measure_temporal.py --clips bikes.mp4 --scale 2 --frames 24 --crf 23 --gt-row
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import torch
from skimage import data

from vsrup import methods
from vsrup.bench.degrade import downscale
from vsrup.engine.runtime import resolve_runtime
from vsrup.engine.scheduler import StreamOptions, run_stream
from vsrup.engine.temporal import TemporalConfig
from vsrup.interface.method import MethodOptions
from vsrup.metrics.frames import RgbWriter, as_u8, read_rgb
from vsrup.metrics.report import evaluate_frames

#: name -> per-frame camera step (dx, dy in GT px, rotation in degrees, zoom factor).
MOTIONS = {
    "pan": (1.5, 0.75, 0.0, 1.0),
    "zoom": (0.5, 0.0, 0.0, 1.006),
    "rotate": (1.0, 0.5, 0.15, 1.0),
}
PHOTOS = ("astronaut", "coffee", "chelsea")


def camera_frames(photo: str, motion: str, frames: int, size: tuple[int, int]) -> list:
    img = getattr(data, photo)()
    w, h = size
    # Enlarge small photos so the view never leaves the picture.
    k = max(1.0, 1.6 * w / img.shape[1], 1.6 * h / img.shape[0])
    if k > 1:
        img = cv2.resize(img, None, fx=k, fy=k, interpolation=cv2.INTER_CUBIC)
    cx, cy = img.shape[1] / 2, img.shape[0] / 2
    dx, dy, da, dz = MOTIONS[motion]
    out = []
    for i in range(frames):
        a, z = math.radians(da * i), dz**i
        c, s = math.cos(a) / z, math.sin(a) / z
        # View pixel (u, v) looks at photo point centre + R/z (u - w/2, v - h/2) + shift.
        m = np.array(
            [
                [c, -s, cx + dx * i - c * w / 2 + s * h / 2],
                [s, c, cy + dy * i - s * w / 2 - c * h / 2],
            ]
        )
        out.append(
            cv2.warpAffine(
                img,
                m,
                (w, h),
                flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REFLECT,
            )  # fmt: skip
        )
    return out


def clip_frames(path: str, frames: int, scale: int, start: int = 0) -> list:
    """RGB frames [start, start + frames) of a real clip, cropped to a multiple of `scale`
    (read as `vsrup metrics` reads them: the clip's own colour matrix)."""
    out = []
    for rgb in read_rgb(path, start, start + frames):
        h, w = rgb.shape[0] // scale * scale, rgb.shape[1] // scale * scale
        out.append(np.ascontiguousarray(as_u8(rgb)[:h, :w]))
    return out


def degrade(gt: list, scale: int, noise: float, seed: int = 0, crf: int | None = None) -> list:
    """Antialiased bicubic downscale, optional Gaussian noise (8-bit levels), 8-bit rounding,
    and with `crf` an H.264 round trip (4:2:0, as real footage is delivered)."""
    rng = np.random.default_rng(seed)
    lr = []
    for f in gt:
        x = downscale(f.astype(np.float32) / 255, scale, "bicubic") * 255
        if noise:
            x = x + rng.normal(0, noise, x.shape)
        lr.append(np.clip(np.rint(x), 0, 255).astype(np.uint8))
    if crf is None:
        return lr
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "lr.mp4"
        with RgbWriter(path, crf=crf) as writer:
            for f in lr:
                writer.write(f)
        return [as_u8(f) for f in read_rgb(path)]


def load(method: str, variant: str | None, scale: int):  # noqa: ANN201
    from vsrup.engine.pipeline import resolve_weights

    cls = methods.get(method)
    runtime = resolve_runtime("cpu", "auto", cls.spec.dtypes)
    options = MethodOptions(scale=scale, variant=variant)
    weights = resolve_weights(cls.spec, options, cls.weights_for(options))
    return cls.from_weights(weights, runtime, options), runtime


def upscale(method, runtime, lr: list, temporal: TemporalConfig | None):  # noqa: ANN001, ANN201
    frames = [(torch.from_numpy(f).permute(2, 0, 1).float() / 255, i) for i, f in enumerate(lr)]
    out: list[np.ndarray] = []
    options = StreamOptions(temporal=temporal, prefetch=2, encode_queue=2)
    t0 = time.perf_counter()
    res = run_stream(frames, method, lambda f, _p: out.append(f), runtime, options)
    return out, time.perf_counter() - t0, res.timings


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--methods", default="lanczos,span")
    ap.add_argument("--scale", type=int, default=2)
    ap.add_argument("--frames", type=int, default=20)
    ap.add_argument("--gt", default="384x256", help="GT size WxH")
    ap.add_argument("--noise", type=float, default=0.0)
    ap.add_argument("--photos", default=",".join(PHOTOS))
    ap.add_argument("--motions", default=",".join(MOTIONS))
    ap.add_argument("--speed", action="store_true", help="time one 854x480 input clip")
    ap.add_argument("--config", default="", help="TemporalConfig overrides: k=v,k=v")
    ap.add_argument("--clips", default="", help="real clips (comma-separated) instead of photos")
    ap.add_argument("--start", type=int, default=0, help="--clips: first frame")
    ap.add_argument("--crf", type=int, default=None, help="H.264 CRF round trip of the input")
    ap.add_argument("--gt-row", action="store_true", help="also score the ground truth itself")
    args = ap.parse_args()
    config = TemporalConfig()
    for kv in filter(None, args.config.split(",")):
        k, v = kv.split("=")
        current = getattr(config, k)
        config = replace(config, **{k: float(v) if current is None else type(current)(v)})
    gw, gh = map(int, args.gt.split("x"))
    s = args.scale
    if args.speed:
        gw, gh = 854 * s, 480 * s
    for spec in args.methods.split(","):
        name, _, variant = spec.partition(":")
        method, runtime = load(name, variant or None, s)
        totals = {"off": [], "on": []}
        sources = [(c, "real") for c in args.clips.split(",") if c] or [
            (p, m) for p in args.photos.split(",") for m in args.motions.split(",")
        ]
        for photo, motion in sources:
            if motion == "real":
                gt = clip_frames(photo, args.frames, s, args.start)
                photo = Path(photo).stem[:9]
            else:
                gt = camera_frames(photo, motion, args.frames, (gw, gh))
            lr = degrade(gt, s, args.noise, crf=args.crf)
            if args.gt_row:
                m = evaluate_frames(gt, gt, crop_border=s).means()
                print(f"GT {photo:9s} {motion:6s} ewarp {m['warp_error'] * 1e3:.3f}", flush=True)
            for label, cfg in (("off", None), ("on", config)):
                out, secs, timings = upscale(method, runtime, lr, cfg)
                rep = evaluate_frames(out, gt, crop_border=s)
                m = rep.means()
                row = (m["psnr_y"], m["warp_error"] * 1e3, m["luma_flicker"], m["tdiff"])
                totals[label].append(row)
                print(
                    f"{spec:22s} {photo:9s} {motion:6s} {label:3s} psnr {row[0]:.3f} "
                    f"ewarp {row[1]:.3f} flicker {row[2]:.3f} tdiff {row[3]:.3f} "
                    f"{secs / len(lr) * 1e3:.0f} ms/frame (method "
                    f"{timings.get('method', 0.0) / len(lr) * 1e3:.0f}, temporal "
                    f"{timings.get('temporal', 0.0) / len(lr) * 1e3:.0f})",
                    flush=True,
                )
        for label, rows in totals.items():
            mean = np.mean(rows, axis=0)
            print(
                f"MEAN {spec:17s} temporal {label:3s} psnr {mean[0]:.3f} ewarp {mean[1]:.3f} "
                f"flicker {mean[2]:.3f} tdiff {mean[3]:.3f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
