"""`vsrup info IN [--json]`: what is in a media file, with the exact frame count."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from vsrup.cli.common import handle_errors


def register(app: typer.Typer) -> None:
    app.command("info")(info)


def _ratio(value: object) -> str:
    return "-" if value is None else str(value)


@handle_errors
def info(
    path: Path = typer.Argument(..., help="A video file."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Container, duration, exact frame count, frame rate (and whether it varies), and every
    stream: codec, pixel format and bit depth, size, SAR/DAR, colour, rotation, audio layout,
    subtitles and attachments with their languages."""
    from vsrup.video.probe import probe

    media = probe(path)
    if as_json:
        print(json.dumps(media.to_dict(), indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    v = media.video
    assert v is not None
    console = Console()
    duration = f"{media.duration_s:.3f} s" if media.duration_s is not None else "unknown"
    console.print(f"[bold]{media.path}[/bold]  ({media.container}, {duration}, "
                  f"{media.size_bytes / 1e6:.1f} MB)", highlight=False)  # fmt: skip
    fps = f"{float(v.fps):.3f}" if v.fps else "unknown"
    rate = f"{fps} fps " + ("(variable)" if v.vfr else "(constant)")
    colour = v.colour_names()
    rows = [
        ("video", f"#{v.index} {v.codec}" + (f" ({v.profile})" if v.profile else "")),
        ("size", f"{v.width}x{v.height}  SAR {_ratio(v.sar or '1/1')}  DAR {_ratio(v.dar)}"),
        ("pixels", f"{v.pix_fmt}, {v.bit_depth}-bit"),
        ("frames", f"{v.frames}" + (f" (header says {v.frames_header})"
                                    if v.frames_header and v.frames_header != v.frames else "")),
        ("rate", rate),
        ("colour", f"primaries {colour['primaries']}, transfer {colour['transfer']}, "
                   f"matrix {colour['matrix']}, range {colour['range']}"
                   + (f"  [HDR: {v.hdr.upper()}]" if v.hdr else "")),
        ("rotation", f"{v.rotation}°"),
    ]  # fmt: skip
    if v.missing_frames:
        rows.append(("damage", f"truncated: {v.missing_frames} frame(s) missing"))
    for key, value in rows:
        console.print(f"  {key:<9}{value}", highlight=False, markup=False)
    if media.streams:
        table = Table("#", "type", "codec", "language", "details")
        for s in media.streams:
            if s.type == "audio":
                details = f"{s.layout}, {s.sample_rate} Hz"
            elif s.type == "attachment":
                details = s.filename or ""
            else:
                details = s.title or ""
            table.add_row(str(s.index), s.type, s.codec, s.language or "-", details)
        console.print(table)
    if media.metadata:
        for key, value in media.metadata.items():
            console.print(f"  {key}: {value}", highlight=False, markup=False)
