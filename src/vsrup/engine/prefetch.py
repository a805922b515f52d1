"""Daemon threads with bounded queues: an iterator run ahead (decoding ahead of compute) and a
sink fed behind (encoding behind compute).

Kept free of torch so that paths which never touch a tensor (the direct swscale path) do not
pay for importing it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

_END = object()


def background(source: Iterable[Any], size: int, stop: threading.Event) -> Iterator[Any]:
    """Iterate `source` in a daemon thread through a bounded queue; re-raise its errors here."""
    q: queue.Queue[Any] = queue.Queue(maxsize=max(size, 1))

    def work() -> None:
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(("__error__", exc))

    t = threading.Thread(target=work, name="vsrup-decode", daemon=True)
    t.start()
    while True:
        item = q.get()
        if item is _END:
            return
        if isinstance(item, tuple) and len(item) == 2 and item[0] == "__error__":
            raise item[1]
        yield item


class BackgroundSink:
    """Feeds `sink(*item)` from a daemon thread; its errors surface on the next put() or close()."""

    def __init__(self, sink: Callable[..., None], size: int) -> None:
        self._q: queue.Queue[Any] = queue.Queue(maxsize=max(size, 1))
        self._error: BaseException | None = None
        self._sink = sink
        self._thread = threading.Thread(target=self._work, name="vsrup-encode", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._q.get()
            if item is _END:
                return
            if self._error is None:
                try:
                    self._sink(*item)
                except BaseException as exc:
                    self._error = exc

    def put(self, *item: Any) -> None:
        if self._error is not None:
            raise self._error
        self._q.put(item)

    def close(self) -> None:
        """Wait until every item handed over has reached the sink."""
        self._q.put(_END)
        self._thread.join()
        if self._error is not None:
            raise self._error
