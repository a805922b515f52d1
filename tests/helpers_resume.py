"""A registered test method for resume tests: deterministic, temporal (windows overlap), and
able to fail (an exception or Ctrl-C) or go slowly on purpose. Also runs `vsrup` in a child
process with it, so a test can SIGKILL a real run."""

from __future__ import annotations

import sys
import time

from tests.helpers_engine import _methods

METHOD_ID = "test-temporal"


def register():  # noqa: ANN201
    """Register the method under METHOD_ID (undone by the caller's monkeypatch, if any)."""
    from vsrup import methods
    from vsrup.interface import registry

    temporal, _ = _methods()

    class Controlled(temporal):
        spec = temporal.spec
        #: Windows computed before `fail_with` is raised (None: never).
        fail_after_windows: int | None = None
        fail_with: type[BaseException] = RuntimeError
        #: Seconds each window takes (a slow method for kill tests).
        sleep: float = 0.0
        #: (start, length) of every window computed by any instance, in order.
        log: list[tuple[int, int]] = []

        @classmethod
        def from_weights(cls, weights, runtime, options):  # noqa: ANN001
            return cls()

        def process(self, clip):  # noqa: ANN001
            n = Controlled.fail_after_windows
            if n is not None and len(self.calls) >= n:
                raise Controlled.fail_with("injected failure")
            time.sleep(Controlled.sleep)
            Controlled.log.append((clip.start, clip.frames.shape[0]))
            return super().process(clip)

    methods.ids()  # load the built-ins first
    registry._REGISTRY[METHOD_ID] = Controlled
    return Controlled


def child_main(argv: list[str], sleep: float) -> None:
    """`python -c 'from tests.helpers_resume import child_main; child_main([...], s)'`."""
    cls = register()
    cls.sleep = sleep
    from vsrup.cli.app import app

    sys.argv = ["vsrup", *argv]
    app()
