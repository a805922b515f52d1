"""Output safety: a target path never holds a partial file.

`AtomicOutput` checks the target up front (exists without overwrite, same as an input,
missing or unwritable directory), hands out a temporary path beside it (same directory,
so the final rename is atomic on one filesystem; same extension, so the muxer picks the
right container), renames it over the target on success and removes it on any error,
including Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path
from types import TracebackType

from vsrup.errors import OutputError


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
