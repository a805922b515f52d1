"""`vsrup jobs list|clean`: the unfinished work of interrupted runs kept in the cache."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import typer

from vsrup.cli.common import handle_errors, info


def register(app: typer.Typer) -> None:
    jobs = typer.Typer(
        help="Unfinished runs kept in the cache (their finished segments); a rerun of the same "
        "command continues from them.",
        no_args_is_help=True,
    )
    jobs.command("list")(list_cmd)
    jobs.command("clean")(clean_cmd)
    app.add_typer(jobs, name="jobs")


def _describe(job) -> str:  # noqa: ANN001
    ident = job.identity
    settings = ident.get("settings") or {}
    size = settings.get("size")
    size_txt = f" {size[0]}x{size[1]}" if isinstance(size, list) and len(size) == 2 else ""
    age_h = (time.time() - job.modified) / 3600
    state = f"running (pid {job.owner})" if job.owner else "interrupted"
    return (
        f"{job.key}  {job.input}  {ident.get('method', '?')}{size_txt}  "
        f"{job.frames_done} frames done  {job.bytes / 2**20:.1f} MiB  "
        f"{age_h:.1f} h ago  {state}"
    )


@handle_errors
def list_cmd(
    work_dir: Path | None = typer.Option(None, "--work-dir", help="The --work-dir runs used."),
) -> None:
    """Show each unfinished run: input, method, frames done, disk used, state."""
    from vsrup.engine.resume import list_jobs

    jobs = list_jobs(work_dir)
    if not jobs:
        print("no unfinished runs")
        return
    for job in jobs:
        print(_describe(job))


@handle_errors
def clean_cmd(
    work_dir: Path | None = typer.Option(None, "--work-dir", help="The --work-dir runs used."),
    older_than: float | None = typer.Option(
        None, "--older-than", help="Only runs untouched for this many hours."
    ),
) -> None:
    """Remove unfinished runs (never one a live process is working on)."""
    from vsrup.engine.resume import list_jobs
    from vsrup.errors import UsageError

    if older_than is not None and older_than < 0:
        raise UsageError("--older-than must be 0 or more hours")
    removed = freed = 0
    for job in list_jobs(work_dir):
        if job.owner is not None:
            info(f"kept {job.key} ({job.input}): pid {job.owner} is working on it")
            continue
        if older_than is not None and time.time() - job.modified < older_than * 3600:
            continue
        shutil.rmtree(job.directory, ignore_errors=True)
        removed += 1
        freed += job.bytes
    print(f"removed {removed} unfinished run(s), {freed / 2**20:.1f} MiB freed")
