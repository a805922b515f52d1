"""`vsrup segment IN`: motion-aware segments of a video, the reason for each cut, a plot."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import typer

from vsrup.cli.common import handle_errors, info


def register(app: typer.Typer) -> None:
    app.command("segment")(segment)


def iter_gray_frames(path: Path) -> Iterator[object]:
    """Decode the first video stream frame by frame as grey uint8 arrays (what the segmenter
    needs; full-colour frames are never kept)."""
    import av

    from vsrup.errors import DecodeError, InputError

    if not path.exists():
        raise InputError("no such file", path=path)
    try:
        container = av.open(str(path))
    except av.FFmpegError as exc:
        raise InputError(f"not a readable video ({exc})", path=path) from None
    with container:
        if not container.streams.video:
            raise InputError("has no video stream", path=path)
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        try:
            for frame in container.decode(stream):
                yield frame.to_ndarray(format="gray")
                index += 1
        except av.FFmpegError as exc:
            raise DecodeError(f"decoding failed after frame {index} ({exc})", path=path) from None


@handle_errors
def segment(
    input: Path = typer.Argument(..., help="Input video.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print JSON: segments and motion."),
    plot: Path | None = typer.Option(
        None, "--plot", help="Write a PNG of translation/rotation/scale with the cuts marked."
    ),
    max_len: int = typer.Option(9, "--max-len", min=1, help="Most frames in one segment."),
    translation: float = typer.Option(
        5.0, "--translation", help="Cut above this translation (input pixels per frame)."
    ),
    rotation: float = typer.Option(0.5, "--rotation", help="Cut above this rotation (degrees)."),
    scale: float = typer.Option(0.01, "--scale", help="Cut where |scale - 1| exceeds this."),
    reference_height: int | None = typer.Option(
        None,
        "--reference-height",
        help="Scale the translation threshold by frame height / this (default: official, "
        "absolute input pixels).",
    ),
) -> None:
    """Split a video where the camera motion jumps (STCDiT's motion-aware segmentation)."""
    from vsrup.engine.segment import MotionSegmenter, SegmentConfig

    config = SegmentConfig(
        max_len=max_len,
        translation_px=translation,
        rotation_deg=rotation,
        scale_tol=scale,
        reference_height=reference_height,
    )
    segmenter = MotionSegmenter(config)
    for gray in iter_gray_frames(input):
        segmenter.push(gray)
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
