"""`vsrup compare A B [C ...] -o out.mp4`: side-by-side or split-wipe video, temporal profiles."""

from __future__ import annotations

from pathlib import Path

import typer

from vsrup.cli.common import handle_errors, info, warn


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)


@handle_errors
def compare(
    inputs: list[Path] = typer.Argument(..., help="Two or more videos (e.g. LR, results, GT)."),
    output: Path | None = typer.Option(None, "-o", "--output", help="Comparison video to write."),
    label: list[str] | None = typer.Option(
        None, "--label", help="Label per input, in order (default: file names)."
    ),
    height: int | None = typer.Option(
        None, "--height", min=2, help="Common panel height (default: the tallest input)."
    ),
    wipe: bool = typer.Option(False, "--wipe", help="Split one frame into bands, one per input."),
    resize: str = typer.Option(
        "nearest", "--resize", help="How inputs reach the common height: nearest, bicubic, lanczos."
    ),
    profile: int | None = typer.Option(
        None,
        "--profile",
        min=0,
        help="Also write temporal-profile PNGs of this row: one per input and all side by side.",
    ),
    profile_dir: Path | None = typer.Option(
        None, "--profile-dir", help="Folder for the profile PNGs (default: next to -o)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing output."),
) -> None:
    """Show methods next to each other (labelled, one common height), or as a split wipe."""
    from vsrup.bench.compare import compare_videos
    from vsrup.cli.degrade import check_outputs
    from vsrup.cli.metrics import frame_progress

    check_outputs(inputs, [output], overwrite)
    with frame_progress("comparing", None) as advance:
        result = compare_videos(
            inputs,
            output,
            labels=label,
            height=height,
            wipe=wipe,
            resize=resize,
            profile_row=profile,
            profile_dir=profile_dir,
            on_frame=advance,
        )
    if len(set(result.input_frames)) > 1:
        counts = ", ".join(
            f"{p.name}: {n}" for p, n in zip(inputs, result.input_frames, strict=True)
        )
        warn(f"inputs differ in length ({counts}); the comparison stops at {result.frames} frames")
    if output is not None:
        info(f"wrote {result.frames} frames ({result.width}x{result.height}) to {output}")
    for p in result.profiles:
        info(f"wrote {p}")
