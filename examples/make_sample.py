"""Write a short sample clip with audio for `make demo` (uses vsrup.video.synth).

python examples/make_sample.py examples/sample.mp4 [--width 320 --height 180 --frames 48]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vsrup.video.synth import make_clip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output", type=Path, nargs="?", default=Path("examples/sample.mp4"))
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--fps", type=float, default=24)
    args = parser.parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    path = make_clip(
        args.output,
        width=args.width,
        height=args.height,
        frames=args.frames,
        fps=args.fps,
        audio_tracks=1,
        subtitles=True,
        metadata={"title": "vsrup sample clip"},
    )
    print(f"wrote {path} ({args.width}x{args.height}, {args.frames} frames, AAC audio, subtitles)")


if __name__ == "__main__":
    main()
