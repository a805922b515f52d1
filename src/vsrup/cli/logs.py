"""Library chatter stays out of vsrup's output unless `--debug` asks for it.

diffusers and transformers print warnings ("There are modules in AutoencoderKLWan ...") that
mean nothing to a user; their verbosity is set to errors before they are imported. libav's
log lines go through PyAV's logging into Python's `libav.*` loggers, shown only with
`--debug`; without it PyAV discards them (its default).
"""

from __future__ import annotations

import logging
import os
import sys


def route_library_logs(debug: bool) -> None:
    if not debug:
        for name in ("DIFFUSERS_VERBOSITY", "TRANSFORMERS_VERBOSITY"):
            os.environ.setdefault(name, "error")
        os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
        return
    import av.logging

    av.logging.set_level(av.logging.WARNING)
    handler = logging.StreamHandler(sys.stderr)
    handler.name = "vsrup-debug"
    handler.setFormatter(logging.Formatter("vsrup: debug: %(name)s: %(message)s"))
    for name in ("libav", "diffusers", "transformers"):
        log = logging.getLogger(name)
        log.setLevel(logging.DEBUG if name != "libav" else logging.WARNING)
        if not any(h.name == handler.name for h in log.handlers):  # once per process
            log.addHandler(handler)
