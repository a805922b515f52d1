"""Time DLoRAL by stage: seconds per frame, peak memory, where the time goes.

    python tools/measure_dloral.py                      # the issue's run: full-size synthetic
                                                        # weights, 512×512 → 2048×2048, 50 frames
    python tools/measure_dloral.py --synthetic tiny --size 24 --frames 4 --device cpu  # smoke

Frames go through the method as the engine feeds it (windows of `spec.window` frames), so the
pairing, the per-frame VAE encode and the carried previous frame are all included. Stages:
prepare (bicubic ×4 + VAE encode), denoise (SpyNet + cross-frame attention + UNet over
latent tiles), decode (VAE decode) and finish (colour fix, resize). Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--synthetic", default="full", choices=("tiny", "full"))
    ap.add_argument("--size", type=int, default=512, help="square input side in pixels")
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--dtype", default="fp16", choices=("fp16", "bf16", "fp32"))
    args = ap.parse_args()

    import torch

    from vsrup.interface.method import Clip, MethodOptions
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import get

    cuda = args.device.startswith("cuda")

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize()

    t0 = time.perf_counter()
    runtime = Runtime(device=args.device, dtype_name=args.dtype if cuda else "fp32")
    method = get("dloral").from_weights(
        None, runtime, MethodOptions(synthetic_weights=args.synthetic)
    )
    sync()
    load_s = time.perf_counter() - t0

    runner = method.runner
    stages: dict[str, float] = defaultdict(float)

    def timed(name: str, fn):  # noqa: ANN001, ANN202
        def wrapper(*a, **k):  # noqa: ANN002, ANN003, ANN202
            sync()
            start = time.perf_counter()
            out = fn(*a, **k)
            sync()
            stages[name] += time.perf_counter() - start
            return out

        return wrapper

    runner.prepare = timed("prepare", runner.prepare)
    runner.denoise = timed("denoise", runner.denoise)
    runner.decode = timed("decode", runner.decode)
    runner.finish = timed("finish", runner.finish)

    g = torch.Generator().manual_seed(0)
    scene = torch.rand(1, 3, args.size // 8, args.size // 8, generator=g)
    scene = torch.nn.functional.interpolate(scene, size=(args.size, args.size), mode="bicubic")
    frames = torch.cat([scene.roll(i, dims=3) for i in range(args.frames)]).clamp(0, 1)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    window = max(method.spec.window, 1)
    sync()
    t0 = time.perf_counter()
    count = 0
    for start in range(0, args.frames, window):
        clip = frames[start : start + window].to(runtime.torch_device)
        out = method.process(Clip(clip, start=start))
        count += out.shape[0]
    method.flush()
    sync()
    total = time.perf_counter() - t0
    report = {
        "device": torch.cuda.get_device_name() if cuda else args.device,
        "dtype": runtime.dtype_name,
        "weights": f"synthetic-{args.synthetic}",
        "input": [args.size, args.size],
        "output": list(out.shape[-2:]),
        "frames": count,
        "load_s": round(load_s, 2),
        "total_s": round(total, 2),
        "s_per_frame": round(total / count, 3),
        "stages_s": {k: round(v, 2) for k, v in stages.items()},
        "peak_vram_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
