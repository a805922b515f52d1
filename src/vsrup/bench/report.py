"""Bench reports: the JSON document, a Markdown table, and the rich table for terminals.

Per method: mean wall time per timed run, end-to-end frames/s (model loading excluded; it is
reported on its own), per-stage mean seconds per run and milliseconds per frame, peak RSS and
VRAM over the timed runs, and quality means when scored. Sub-stages (vae_encode, denoise,
vae_decode inside method) name their parent; they are part of it, not added to it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from vsrup.util.timing import STAGES

if TYPE_CHECKING:
    from vsrup.bench.core import MethodResult
    from vsrup.bench.suite import BenchReport

_MB = 1024 * 1024


def _num(x: float | None, digits: int = 4) -> float | None:
    if x is None or math.isnan(x) or math.isinf(x):
        return None
    return round(x, digits)


def result_dict(r: MethodResult) -> dict[str, Any]:
    frames = r.frames or 1
    return {
        "method": r.method,
        "device": r.device,
        "dtype": r.dtype,
        "frames": r.frames,
        "output_size": list(r.output_size) if r.output_size else None,
        "warmup_runs": r.warmup,
        "runs": [
            {"seconds": _num(run.seconds), "fps": _num(run.fps), "load_seconds": _num(run.load)}
            for run in r.runs
        ],
        "seconds": _num(r.mean("seconds")),
        "load_seconds": _num(r.mean("load")),
        "fps": _num(r.mean("fps")),
        "versus": r.versus,
        "stages": [
            {
                "name": name,
                "seconds": _num(sec),
                "ms_per_frame": _num(1e3 * sec / frames, 3),
                "calls": calls,
                "parent": parent,
            }
            for name, sec, calls, parent in r.stage_means()
        ],
        "peak_rss_mb": _num(r.peak("peak_rss") / _MB, 1) if r.peak("peak_rss") else None,
        "peak_vram_mb": _num(r.peak("peak_vram") / _MB, 1) if r.peak("peak_vram") else None,
        "peak_vram_reserved_mb": (
            _num(r.peak("peak_vram_reserved") / _MB, 1) if r.peak("peak_vram_reserved") else None
        ),
        "quality": {k: _num(v, 6) for k, v in r.quality.items()} if r.quality else None,
        "error": r.error,
        "note": r.note,
    }


def report_dict(report: BenchReport) -> dict[str, Any]:
    s = report.settings
    return {
        "schema": "vsrup.bench/1",
        "input": report.input,
        "host": report.host,
        "settings": {
            "scale": s.scale,
            "repeat": s.repeat,
            "warmup": s.warmup,
            "device": s.device,
            "dtype": s.dtype,
            "synthetic_weights": s.synthetic_weights,
            "steps": s.steps,
            "seed": s.seed,
        },
        "results": [result_dict(r) for r in report.results],
    }


def _stage_columns(results: list[MethodResult]) -> list[str]:
    present = {name for r in results for name, *_ in r.stage_means()}
    ordered = [n for n in STAGES if n in present]
    return ordered + sorted(present - set(ordered))


def _f(x: float | None, fmt: str) -> str:
    return "-" if x is None or math.isnan(x) else format(x, fmt)


def rows(report: BenchReport) -> tuple[list[str], list[list[str]], list[str], list[list[str]]]:
    """(summary headers, summary rows, stage headers, stage rows) as text cells."""
    scored = any(r.quality for r in report.results)
    with_gt = any(r.quality and r.quality.get("psnr_y") is not None for r in report.results)
    head = ["method", "device", "frames", "output", "fps", "s/run", "load s", "peak RSS MB"]
    if any(r.peak("peak_vram") for r in report.results):
        head.append("peak VRAM MB")
    if with_gt:
        head += ["PSNR-Y", "SSIM-Y"]
    if scored:
        head += ["E_warp ×1e-3"]
    versus = any(r.versus for r in report.results)
    if versus:
        head.append("fps vs reference")
    table: list[list[str]] = []
    for r in report.results:
        if r.error:
            table.append([r.method, f"{r.device}/{r.dtype}", "-", f"error: {r.error}"])
            table[-1] += [""] * (len(head) - len(table[-1]))
            continue
        q = r.quality or {}
        row = [
            r.method,
            f"{r.device}/{r.dtype}",
            str(r.frames),
            f"{r.output_size[0]}x{r.output_size[1]}" if r.output_size else "-",
            _f(r.mean("fps"), ".2f"),
            _f(r.mean("seconds"), ".3f"),
            _f(r.mean("load"), ".3f"),
            _f(r.peak("peak_rss") / _MB, ".0f") if r.peak("peak_rss") else "-",
        ]
        if "peak VRAM MB" in head:
            vram = r.peak("peak_vram")
            row.append(_f(vram / _MB, ".0f") if vram else "-")
        if with_gt:
            row += [_f(q.get("psnr_y"), ".2f"), _f(q.get("ssim_y"), ".4f")]
        if scored:
            w = q.get("warp_error")
            row.append(_f(w * 1e3 if w is not None else None, ".3f"))
        if versus:
            row.append(r.versus or "-")
        table.append(row)
    stages = _stage_columns(report.results)
    parents = {n: p for r in report.results for n, _, _, p in r.stage_means()}
    stage_head = ["method (ms/frame)"] + [
        f"{n} (in {parents[n]})" if parents.get(n) else n for n in stages
    ]
    stage_rows = []
    for r in report.results:
        if r.error or not r.runs:
            continue
        means = {n: sec for n, sec, _, _ in r.stage_means()}
        frames = r.frames or 1
        stage_rows.append(
            [r.method]
            + [_f(1e3 * means[n] / frames if n in means else None, ".2f") for n in stages]
        )
    return head, table, stage_head, stage_rows


def _md_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in body]
    return "\n".join(lines)


def caption(report: BenchReport) -> str:
    i, h, s = report.input, report.host, report.settings
    src = i["path"] or "generated clip"
    line = f"{src}: {i['width']}x{i['height']}, ×{s.scale}"
    if i.get("degrade"):
        line += f", degraded ({i['degrade']})"
    line += f"; {s.repeat} timed run(s) after {s.warmup} warm-up; host: {h['cpu']}"
    line += f", {h['cores']} cores, torch {h['torch']}"
    if h.get("cuda"):
        line += f", {h['cuda']}"
    if h.get("load_average"):
        line += f", load average {h['load_average'][0]}"
    return line


def markdown(report: BenchReport) -> str:
    head, body, stage_head, stage_rows = rows(report)
    parts = [caption(report), "", _md_table(head, body)]
    if stage_rows:
        parts += ["", _md_table(stage_head, stage_rows)]
    return "\n".join(parts) + "\n"


def print_rich(report: BenchReport) -> None:
    from rich.console import Console
    from rich.table import Table

    head, body, stage_head, stage_rows = rows(report)
    console = Console()
    table = Table(*head, title=caption(report))
    for row in body:
        table.add_row(*row)
    console.print(table)
    if stage_rows:
        stages = Table(*stage_head, title="stages")
        for row in stage_rows:
            stages.add_row(*row)
        console.print(stages)
