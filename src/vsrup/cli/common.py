"""What every command shares: error handling, the debug switch, stderr output."""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer

from vsrup.errors import EXIT_RUNTIME, EXIT_USAGE, UsageError, VsrupError

F = TypeVar("F", bound=Callable[..., Any])


class _State:
    debug: bool = bool(os.environ.get("VSRUP_DEBUG"))
    quiet: bool = False


state = _State()


def error_line(text: str) -> None:
    """One line on stderr, never rich markup (file names may contain brackets)."""
    print(f"vsrup: error: {text}", file=sys.stderr, flush=True)


def warn(text: str) -> None:
    print(f"vsrup: warning: {text}", file=sys.stderr, flush=True)


def info(text: str) -> None:
    if not state.quiet:
        print(text, file=sys.stderr, flush=True)


def check_synthetic_weights(value: str | None) -> None:
    """`--synthetic-weights` takes tiny or full (random weights: the output is noise)."""
    if value not in (None, "tiny", "full"):
        raise UsageError(f"bad --synthetic-weights {value!r}", hint="use tiny or full")


def handle_errors(fn: F) -> F:
    """Turn every failure into one line and an exit code; re-raise under --debug."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort, SystemExit):
            raise
        except VsrupError as exc:
            if state.debug:
                raise
            error_line(exc.render())
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            if state.debug:
                raise
            error_line("interrupted")
            raise typer.Exit(130) from None
        except OSError as exc:
            if state.debug:
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            reason = exc.strerror or str(exc)
            if exc.errno == errno.ENOSPC:
                reason = "no space left on the device"
            error_line(f"{where}{reason}")
            code = EXIT_USAGE if exc.errno in (errno.ENOENT, errno.EACCES) else EXIT_RUNTIME
            raise typer.Exit(code) from None
        except Exception as exc:  # an unexpected bug: still one line, unless debugging
            if state.debug:
                raise
            error_line(f"internal error: {type(exc).__name__}: {exc} (rerun with --debug)")
            raise typer.Exit(EXIT_RUNTIME) from None

    return wrapper  # type: ignore[return-value]
