"""`vsrup upscale --json`: one JSON object per input on stdout, for scripts.

Each line is complete on its own (JSON Lines), written and flushed as soon as that input is
finished, so a script can follow a long batch. When the reader goes away (`... --json | head
-1`), the remaining lines are dropped quietly and the batch goes on: the videos are the work,
the report is a courtesy.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any


class JsonReport:
    def __init__(self) -> None:
        self.closed = False

    def emit(
        self,
        src: Path,
        dst: Path,
        method: str,
        status: str,
        *,
        result: Any = None,  # vsrup.engine.pipeline.JobResult
        error: str | None = None,
    ) -> None:
        row: dict[str, Any] = {
            "input": str(src),
            "output": str(dst),
            "method": method,
            "status": status,
            "frames": None,
            "seconds": None,
            "fps": None,
            "warnings": [],
            "error": error,
        }
        if result is not None:
            seconds = round(result.seconds, 3)
            row.update(frames=result.frames, seconds=seconds, warnings=list(result.warnings),
                       fps=round(result.frames / seconds, 3) if seconds > 0 else None)  # fmt: skip
        self.write(json.dumps(row))

    def write(self, line: str) -> None:
        if self.closed:
            return
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            self.closed = True
            # Point stdout at /dev/null so the interpreter's final flush cannot fail either.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
