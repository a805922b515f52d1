"""Measure the offline methods against bicubic and lanczos on clips made from real photos.

Quality: camera pans over scikit-image photos (GT 256×256), ×4 down with area averaging (A)
or antialiased bicubic (B), ×4 up with each method; Y-channel PSNR / SSIM (BT.601 luma, 4 px
border ignored) and a flicker measure (mean |ΔSR_t − ΔGT_t| of consecutive frame differences,
in 8-bit levels; lower is steadier). Speed: one 854×480 frame → ×4 through the engine's tiles
with each method's tiling advice, on this machine's CPU.

    python tools/measure_offline.py [--frames 6] [--speed] [--methods span,lanczos,...]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from skimage import data
from skimage.metrics import structural_similarity

from vsrup import methods
from vsrup.engine.tiles import tiled_apply
from vsrup.interface.method import Clip, MethodOptions
from vsrup.interface.runtime import Runtime
from vsrup.util.resize import resize

PHOTOS = {"astronaut": data.astronaut, "coffee": data.coffee, "chelsea": data.chelsea}
METHODS = {
    "bicubic": ("bicubic", None),
    "lanczos": ("lanczos", None),
    "span": ("span", None),
    "waifu2x-photo": ("waifu2x", "photo"),
    "realesr-animevideov3": ("realesrgan", "animevideov3"),
    "realesrgan-x4plus": ("realesrgan", "x4plus"),
}


def pan(photo: str, frames: int, size: int = 256, step: int = 4) -> torch.Tensor:
    img = torch.from_numpy(PHOTOS[photo]().copy()).permute(2, 0, 1).float() / 255
    return torch.stack(
        [
            img[:, 20 + i * step : 20 + i * step + size, 20 + i : 20 + i + size]
            for i in range(frames)
        ]
    )


def luma(x: torch.Tensor) -> np.ndarray:
    r, g, b = x[:, 0], x[:, 1], x[:, 2]
    return ((16 + 65.481 * r + 128.553 * g + 24.966 * b) / 255).clamp(0, 1).double().numpy()


def scores(sr: torch.Tensor, gt: torch.Tensor, border: int = 4) -> tuple[float, float, float]:
    ys, yg = (
        luma(sr)[:, border:-border, border:-border],
        luma(gt)[:, border:-border, border:-border],
    )
    psnr = float(np.mean([10 * np.log10(1 / np.mean((a - b) ** 2)) for a, b in zip(ys, yg)]))
    ssim = float(np.mean([structural_similarity(a, b, data_range=1.0) for a, b in zip(ys, yg)]))
    flicker = float(np.mean(np.abs(np.diff(ys, axis=0) - np.diff(yg, axis=0)))) * 255
    return psnr, ssim, flicker


def build(name: str):  # noqa: ANN201
    method_id, variant = METHODS[name]
    cls = methods.get(method_id)
    return cls.from_weights(None, Runtime(), MethodOptions(scale=4, variant=variant))


def run(method, frames: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    spec = method.spec
    out = []
    for i in range(frames.shape[0]):
        x = frames[i : i + 1]
        if spec.tile:
            y = tiled_apply(lambda t: method.process(Clip(t)), x, spec.tile, spec.tile_overlap,
                            scale=method.scale)  # fmt: skip
        else:
            y = method.process(Clip(x))
        out.append(y)
    return torch.cat(out)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--frames", type=int, default=6)
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--speed", action="store_true")
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--speed-size", default="854x480")
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("THREADS", "2")))
    names = args.methods.split(",")
    clips = {p: pan(p, args.frames) for p in PHOTOS}
    degrade = {
        "A": lambda x: F.avg_pool2d(x, 4),
        "B": lambda x: resize(x, x.shape[-2] // 4, x.shape[-1] // 4, "bicubic"),
    }
    print(f"load average at start: {os.getloadavg()}")
    print("| method | A: PSNR / SSIM / flicker | B: PSNR / SSIM / flicker | s/frame (64² in) |")
    print("|---|---|---|---|")
    for name in [] if args.no_quality else names:
        method = build(name)
        row, seconds, count = [], 0.0, 0
        for kind, down in degrade.items():
            per = []
            for gt in clips.values():
                lr = down(gt).clamp(0, 1)
                t = time.perf_counter()
                with torch.inference_mode():
                    sr = run(method, lr)
                seconds += time.perf_counter() - t
                count += lr.shape[0]
                per.append(scores(sr, gt))
            p, s, f = (float(np.mean(v)) for v in zip(*per))
            row.append(f"{p:.2f} / {s:.3f} / {f:.2f}")
            del kind
        print(f"| {name} | {row[0]} | {row[1]} | {seconds / count:.3f} |", flush=True)
    if args.speed:
        w, h = (int(v) for v in args.speed_size.split("x"))
        x = torch.rand(1, 3, h, w)
        print(f"\nspeed {w}x{h} -> x4, load average {os.getloadavg()}")
        for name in names:
            method = build(name)
            t = time.perf_counter()
            with torch.inference_mode():
                y = run(method, x)
            dt = time.perf_counter() - t
            print(f"| {name} | {tuple(y.shape[-2:])} | {dt:.1f} s/frame | {1 / dt:.3f} fps |",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
