"""Running `vsrup upscale`'s jobs one after another: one failure does not stop a batch, each
file's outcome goes to the JSON report and the summary table, and the worst exit status is
kept for the end."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from vsrup.cli.common import error_line, info, state, warn
from vsrup.errors import EXIT_RUNTIME, EXIT_USAGE, VsrupError

if TYPE_CHECKING:
    from vsrup.cli.outputs import Planned
    from vsrup.cli.progress import ProgressView
    from vsrup.cli.report import JsonReport
    from vsrup.engine.pipeline import UpscaleJob


@dataclass
class UpscaleBatch:
    method: str
    report: JsonReport | None
    view: ProgressView
    #: Several inputs (or a folder): failures are reported per file, then summarised.
    is_batch: bool
    #: (input, output, status, details) per file, in order.
    results: list[tuple[Path, Path, str, str]] = field(default_factory=list)
    #: The worst exit status so far (0: every file succeeded).
    worst: int = 0

    def emit(self, job: Any, status: str, **details: Any) -> None:
        if self.report is not None:
            self.report.emit(job.input, job.output, self.method, status, **details)

    def skip(self, plan: Planned) -> None:
        info(f"skipped {plan.input}: {plan.output} {plan.skip}")
        self.results.append((plan.input, plan.output, "skipped", plan.skip or ""))
        self.emit(plan, "skipped", error=plan.skip)

    def failed(self, job: UpscaleJob, code: int, line: str, detail: str) -> None:
        error_line(line)
        self.worst = max(self.worst, code)
        self.results.append((job.input, job.output, "failed", detail))

    def run_one(self, job: UpscaleJob) -> None:
        """Run one job, with its progress bar; a single input's error propagates."""
        from vsrup.engine.pipeline import run_job

        src, dst = job.input, job.output
        self.view.start(src.name)
        try:
            result = run_job(job, on_progress=self.view.update, on_warning=warn, on_info=info)
        except VsrupError as exc:
            self.view.stop()
            self.emit(job, "failed", error=exc.render())
            if not self.is_batch:
                raise
            self.failed(job, exc.exit_code, exc.render(), exc.message)
            return
        except KeyboardInterrupt:
            self.view.stop()
            raise
        except Exception as exc:  # one broken file must not stop a batch
            self.view.stop()
            if not self.is_batch or state.debug:
                raise
            what = f"{type(exc).__name__}: {exc}"
            self.failed(job, EXIT_RUNTIME, f"{src}: internal error: {what}", what)
            self.emit(job, "failed", error=what)
            return
        self.view.stop()
        note = f"{result.frames} frames {result.width}x{result.height} in {result.seconds:.1f} s"
        if result.decode_errors:
            note += f", {result.decode_errors} undecodable frame(s) skipped"
        info(f"wrote {dst} ({note})")
        self.results.append((src, dst, "ok", note))
        self.emit(job, "ok", result=result)

    def run_scaled(
        self, jobs: list[UpscaleJob], workers: int | None, address: str | None, device: str
    ) -> None:
        """`--workers`/`--ray`: every job on the worker pool."""
        from vsrup.cli.scaleout import pool_options, run_scaled

        options = pool_options(workers, address, device)
        worst = run_scaled(jobs, options, self.report, self.view, self.method, self.results)
        self.worst = max(self.worst, worst)
        self.is_batch = True  # the summary table says which files failed

    def finish(self, quiet: bool) -> None:
        """A batch's summary table; a non-zero exit when any file failed."""
        if self.is_batch:
            self.summary(quiet)
            if self.worst:
                raise typer.Exit(EXIT_USAGE if self.worst == EXIT_USAGE else EXIT_RUNTIME)

    def summary(self, quiet: bool) -> None:
        from rich.console import Console
        from rich.table import Table

        results = self.results
        counts = {k: sum(1 for r in results if r[2] == k) for k in ("ok", "skipped", "failed")}
        colour = {"ok": "green", "skipped": "yellow", "failed": "red"}
        table = Table("input", "output", "status", "details", title="vsrup upscale")
        for src, dst, status, note in results:
            style = colour[status]
            table.add_row(str(src), str(dst), f"[{style}]{status}[/{style}]", note)
        console = Console(stderr=True)
        if not quiet or counts["failed"]:
            console.print(table)
        console.print(f"{counts['ok']} done, {counts['skipped']} skipped, {counts['failed']} "
                      "failed", highlight=False)  # fmt: skip
