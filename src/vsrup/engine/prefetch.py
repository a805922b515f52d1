"""Run an iterator ahead in a daemon thread, through a bounded queue (decoding ahead of compute).

Kept free of torch so that paths which never touch a tensor (the direct swscale path) do not
pay for importing it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
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
