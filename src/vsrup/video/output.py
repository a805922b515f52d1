"""Output safety: a target path never holds a partial file.

`AtomicOutput` checks the target up front (exists without overwrite, same as an input,
missing or unwritable directory), hands out a temporary path beside it (same directory,
so the final rename is atomic on one filesystem; same extension, so the muxer picks the
right container), renames it over the target on success and removes it on any error,
including Ctrl-C. A process that is killed outright (SIGKILL, power loss) cannot clean up:
its temporary keeps the process id in its name, and `remove_stale_partials` removes those of
processes that no longer exist on the next run (a live concurrent run's files stay).
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from vsrup.errors import OutputError
from vsrup.processes import pid_alive


def same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def check_output(target: str | Path, *, overwrite: bool, inputs: tuple[Path, ...] = ()) -> Path:
    """Validate an output path; raise OutputError with a clear reason."""
    target = Path(target)
    for src in inputs:
        if same_file(target, Path(src)):
            raise OutputError("output is the same file as the input", path=target)
    if target.is_dir():
        raise OutputError("output is a directory; give a file name", path=target)
    if target.exists() and not overwrite:
        raise OutputError("already exists", path=target, hint="use --overwrite to replace it")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise OutputError("output directory does not exist", path=parent)
    probe_writable(parent)
    return target


def probe_writable(directory: Path) -> None:
    """Create and remove a file: the only test that holds for root, ACLs and read-only mounts."""
    try:
        with tempfile.NamedTemporaryFile(dir=directory, prefix=".vsrup-write-test-"):
            pass
    except OSError as err:
        reason = err.strerror or "cannot create files"
        raise OutputError(f"output directory is not writable ({reason})", path=directory) from None


#: `.NAME.vsrup-PID-TOKEN.partial[.ext]`: the temporaries of AtomicOutput and
#: ImageSequenceWriter.
_PARTIAL = re.compile(r"^\..*\.vsrup-(\d+)-[0-9a-f]+\.partial(\.[^.]*)?$")


def remove_stale_partials(directory: Path, warn: Callable[[str], None] | None = None) -> int:
    """Remove the temporaries that dead vsrup processes left in `directory`; returns how many.
    Those of live processes (a concurrent run) are left alone."""
    removed = 0
    try:
        entries = list(Path(directory).iterdir())
    except OSError:
        return 0
    for entry in entries:
        m = _PARTIAL.match(entry.name)
        if m is None or pid_alive(int(m.group(1))):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed += 1
            if warn is not None:
                warn(f"{entry}: removed a partial output left by an interrupted run "
                     f"(process {m.group(1)} no longer exists)")  # fmt: skip
    return removed


class AtomicOutput:
    """Context manager: `with AtomicOutput(target) as tmp: write(tmp)`."""

    def __init__(
        self, target: str | Path, *, overwrite: bool = False, inputs: tuple[Path, ...] = ()
    ) -> None:
        self.target = check_output(target, overwrite=overwrite, inputs=inputs)
        token = secrets.token_hex(4)
        name = f".{self.target.stem}.vsrup-{os.getpid()}-{token}.partial{self.target.suffix}"
        self.temp = self.target.with_name(name)

    def __enter__(self) -> Path:
        return self.temp

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            try:
                os.replace(self.temp, self.target)
            except OSError as err:
                self.cleanup()
                raise OutputError(f"cannot move the result into place: {err.strerror}",
                                  path=self.target) from None  # fmt: skip
            return
        self.cleanup()  # any failure, KeyboardInterrupt included: leave nothing behind

    def cleanup(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.temp.unlink()
