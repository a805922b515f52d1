"""`vsrup metrics OUT [GT]`: PSNR/SSIM on Y against a reference, and temporal consistency."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from vsrup.cli.common import handle_errors
from vsrup.errors import UsageError

if TYPE_CHECKING:
    from vsrup.metrics.report import MetricsReport


def register(app: typer.Typer) -> None:
    app.command("metrics")(metrics)


def parse_frames(text: str | None) -> tuple[int, int | None]:
    """`A:B` (end exclusive; either side may be empty) -> (start, stop)."""
    if not text:
        return 0, None
    head, sep, tail = text.partition(":")
    try:
        start = int(head) if head else 0
        stop = int(tail) if tail else None
    except ValueError:
        start, stop, sep = -1, None, ""
    if not sep or start < 0 or (stop is not None and stop <= start):
        raise UsageError(
            f"bad frame range {text!r}", hint="use A:B with 0 <= A < B, e.g. 0:100 or 50:"
        )
    return start, stop


@contextmanager
def frame_progress(label: str, total: int | None) -> Iterator[Callable[[Any], None]]:
    """A transient rich bar on stderr when it is a terminal; the callback ignores its argument
    and advances one frame. Off a terminal nothing is drawn."""
    if not sys.stderr.isatty():
        yield lambda _item: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda _item: bar.advance(task)


def fmt(value: float | None, name: str) -> str:
    if value is None:
        return "-"
    if name == "psnr_y":
        return f"{value:.2f}"
    if name == "ssim_y":
        return f"{value:.4f}"
    if name == "warp_error":
        return f"{value * 1e3:.3f}"
    return f"{value:.3f}"


HEADERS = {
    "psnr_y": "PSNR-Y dB",
    "ssim_y": "SSIM-Y",
    "warp_error": "E_warp ×1e-3",
    "luma_flicker": "luma flicker",
    "tdiff": "tdiff",
}


def print_report(report: MetricsReport, per_frame: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    means = report.means()
    names = [n for n in HEADERS if means[n] is not None]
    console = Console()
    if per_frame:
        table = Table("frame", *(HEADERS[n] for n in names))
        for f in report.frames:
            table.add_row(str(f.index), *(fmt(getattr(f, n), n) for n in names))
        console.print(table)
    title = f"{report.output}" + (f" vs {report.reference}" if report.reference else "")
    summary = Table("", *(HEADERS[n] for n in names), title=title)
    summary.add_row(f"mean of {len(report.frames)}", *(fmt(means[n], n) for n in names))
    console.print(summary)
    if report.cuts and any(means[n] is not None for n in ("warp_error", "luma_flicker")):
        frames = ", ".join(map(str, report.cuts[:10])) + (" …" if len(report.cuts) > 10 else "")
        console.print(
            f"{len(report.cuts)} scene cut(s), at frame(s) {frames}: temporal scores are per "
            "shot, so the pairs across them are not scored."
        )


@handle_errors
def metrics(
    output: Path = typer.Argument(..., help="The video to score (e.g. an upscaled result)."),
    reference: Path | None = typer.Argument(
        None, help="Ground-truth video of the same size; without it only temporal scores."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON report (with per-frame)."),
    per_frame: bool = typer.Option(False, "--per-frame", help="Also print a row per frame."),
    crop: int = typer.Option(
        0,
        "--crop",
        min=0,
        help="Pixels to drop from each border before PSNR/SSIM (papers use the scale factor).",
    ),
    temporal: bool = typer.Option(
        True, "--temporal/--no-temporal", help="DIS warping error and flicker (the slow part)."
    ),
    frames: str | None = typer.Option(None, "--frames", help="Frame range A:B (end exclusive)."),
) -> None:
    """Score a video: PSNR and SSIM on BT.601 luma against GT, DIS warping error, flicker."""
    from vsrup.metrics.report import evaluate_videos
    from vsrup.video.probe import probe_video

    start, stop = parse_frames(frames)
    total = probe_video(output).frames_header
    if total is not None:
        total = max(0, (min(total, stop) if stop is not None else total) - start)
    with frame_progress(f"scoring {output.name}", total) as advance:
        report = evaluate_videos(
            output,
            reference,
            crop_border=crop,
            temporal=temporal,
            start=start,
            stop=stop,
            on_frame=advance,
        )
    if as_json:
        print(json.dumps(report.to_dict(), indent=2, allow_nan=False))
    else:
        print_report(report, per_frame)
