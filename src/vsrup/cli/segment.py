"""`vsrup segment IN`: motion-aware segments of a video, the reason for each cut, a plot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import typer

from vsrup.cli.common import handle_errors, info


def register(app: typer.Typer) -> None:
    app.command("segment")(segment)


def iter_frames(path: Path, frames: str | None = None) -> Iterator[object]:
    """Decode the selected frames one by one (RGB arrays from vsrup's reader; the segmenter
    keeps only a grey copy of the previous one)."""
    from vsrup.cli.common import warn
    from vsrup.video.probe import check_input
    from vsrup.video.reader import FrameRange, VideoReader

    check_input(path)
    reader = VideoReader(path, batch=1, frame_range=FrameRange.parse(frames), on_warning=warn)
    for array, _pts in reader.frames():
        yield array


@handle_errors
def segment(
    input: Path = typer.Argument(..., help="Input video.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: segments and motion."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write a PNG of translation/rotation/scale with the cuts marked."
    ),
    max_len: int = typer.Option(9, "--max-len", min=1, help="Most frames in one segment."),
    frames: str | None = typer.Option(None, "--frames", help="Frame range A:B (B exclusive)."),
    translation: float = typer.Option(
        5.0, "--translation", help="Cut above this translation (input pixels per frame)."
    ),
    rotation: float = typer.Option(0.5, "--rotation", help="Cut above this rotation (degrees)."),
    scale: float = typer.Option(0.01, "--scale", help="Cut where |scale - 1| exceeds this."),
    extended: bool = typer.Option(
        False,
        "--extended",
        help="Our extensions to the official rules: cut at scene changes and where tracking "
        "is lost, re-detect weak corners.",
    ),
    reference_height: int | None = typer.Option(
        None,
        "--reference-height",
        help="Scale the translation threshold by frame height / this (default: official, "
        "absolute input pixels).",
    ),
) -> None:
    """Split a video where the camera motion jumps (STCDiT's motion-aware segmentation)."""
    from vsrup.engine.segment import MotionSegmenter, SegmentConfig

    config = (SegmentConfig.extended if extended else SegmentConfig)(
        max_len=max_len,
        translation_px=translation,
        rotation_deg=rotation,
        scale_tol=scale,
        reference_height=reference_height,
    )
    segmenter = MotionSegmenter(config)
    for frame in iter_frames(input, frames):
        segmenter.push(frame)
    segmenter.finish()
    result = segmenter.result()
    if plot is not None:
        from vsrup.engine.motion_plot import save_motion_plot

        save_motion_plot(result, config, plot)
        info(f"wrote {plot}")
    if as_json:
        print(json.dumps(result.to_json(config), indent=1))
        return
    print(f"{input}: {result.frames} frames, {len(result.segments)} segments")
    by_index = {m.index: m for m in result.motions}
    for seg in result.segments:
        m = by_index.get(seg.start)
        detail = ""
        if m is not None and m.status == "ok" and seg.start > 0:
            detail = (
                f"  (dx {m.dx:+.2f} dy {m.dy:+.2f} px, rot {m.rotation_deg:+.2f}°, "
                f"scale {m.scale:.4f})"
            )
        elif m is not None and seg.reason == "scene-change":
            detail = f"  (histogram distance {m.scene_distance:.2f})"
        print(f"  [{seg.start:6d}, {seg.end:6d})  {len(seg):3d} frames  {seg.reason}{detail}")
