"""One error hierarchy for the whole package.

Every error a user can cause or meet carries a one-line message that names the file (when there
is one) and the problem, and optionally a hint: the next command to run. The CLI turns these
into one line on stderr and an exit code; only `--debug` shows a traceback.
"""

from __future__ import annotations

from pathlib import Path

EXIT_RUNTIME = 1  # something failed while running: decode error mid-file, OOM, disk full
EXIT_USAGE = 2  # bad input or usage: missing file, not a video, bad option, missing weights


class VsrupError(Exception):
    """Base class: a message for users, an exit code, and an optional hint."""

    exit_code: int = EXIT_RUNTIME

    def __init__(self, message: str, *, path: str | Path | None = None, hint: str | None = None):
        self.message = message
        self.path = Path(path) if path is not None else None
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        text = f"{self.path}: {self.message}" if self.path is not None else self.message
        return f"{text} ({self.hint})" if self.hint else text


class UsageError(VsrupError):
    """An option or combination of options that cannot work."""

    exit_code = EXIT_USAGE


class InputError(VsrupError):
    """An input file that is missing, not a video, corrupt or unsupported."""

    exit_code = EXIT_USAGE


class OutputError(VsrupError):
    """An output path that exists, is not writable, or equals the input."""

    exit_code = EXIT_USAGE


class DecodeError(VsrupError):
    """Decoding failed part-way through a file that started fine."""

    exit_code = EXIT_RUNTIME


class EncodeError(VsrupError):
    """Encoding or muxing failed (disk full, encoder refused the settings, ...)."""

    exit_code = EXIT_RUNTIME


class WeightsError(VsrupError):
    """Weights are missing, corrupt, of the wrong layout, or cannot be fetched."""

    exit_code = EXIT_USAGE


class MethodError(VsrupError):
    """A method cannot run with these inputs or settings."""

    exit_code = EXIT_USAGE


class TrainingError(VsrupError):
    """A training run cannot go on (the loss or the gradients stopped being finite)."""


class DeviceError(VsrupError):
    """The requested device or dtype is unavailable, or memory ran out for good."""

    exit_code = EXIT_RUNTIME
