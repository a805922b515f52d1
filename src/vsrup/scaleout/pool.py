"""A pool of long-lived workers on Ray: each keeps its model loaded across work items.

`run_pool` hands picklable work items to `workers` Ray actors, longest first, one item per
actor at a time. Each actor builds its worker object once (`factory()`, e.g. a loaded
method) and calls `worker.run(payload)` for every item it is given, so a model is loaded
once per actor, not once per item.

Faults: an actor that dies mid-item (SIGKILL, a lost node, the OOM killer) is restarted by
Ray (`max_restarts`), and the item is given again to whichever actor is free next: nothing
is lost, and since an item's result is only taken from the call that finished, nothing is
counted twice. An exception raised by the worker's own code is the item's result (an error
a retry would only repeat), reported once, without stopping the other items.

Ray is an optional extra (`pip install vsrup[ray]`); it is imported only here, when a
distributed run is asked for.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from vsrup.errors import UsageError


class Worker(Protocol):
    def run(self, payload: Any) -> Any: ...


@dataclass(frozen=True)
class WorkItem:
    """One unit of work: `key` is unique, `cost` orders the queue (largest first)."""

    key: str
    cost: float
    payload: Any


@dataclass
class PoolEvent:
    """What the pool reports as it goes: start, done, failed (worker error) or retry."""

    kind: str
    key: str
    worker: int
    seconds: float = 0.0
    result: Any = None
    error: str = ""


@dataclass
class PoolOptions:
    workers: int = 2
    #: Ray address of an existing cluster ("auto", "ray://host:10001", "host:6379");
    #: None starts a private local instance with `workers` CPUs.
    address: str | None = None
    cpus_per_worker: float = 1.0
    gpus_per_worker: float = 0.0
    #: Times one item may be given again after its worker died.
    max_retries: int = 3
    #: Environment variables every worker gets (e.g. HF_HOME of a pre-staged cache).
    env: dict[str, str] = field(default_factory=dict)


def require_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise UsageError(
            "--workers/--ray need Ray, an optional extra",
            hint="pip install 'vsrup[ray]'",
        ) from None
    return ray


def _actor_class(ray: Any) -> Any:
    class _Actor:
        def __init__(self, factory: Callable[[], Worker], index: int) -> None:
            self.index = index
            self.factory = factory
            self.worker: Worker | None = None

        def run(self, payload: Any) -> tuple[float, Any]:
            if self.worker is None:  # built on the first item, kept for the next ones
                self.worker = self.factory()
            t0 = time.perf_counter()
            result = self.worker.run(payload)
            return time.perf_counter() - t0, result

        def pid(self) -> int:
            return os.getpid()

    return ray.remote(_Actor)


def _init(ray: Any, opts: PoolOptions) -> bool:
    """Connect to the cluster or start a local one; True when this call started it."""
    if ray.is_initialized():
        return False
    env = {"env_vars": dict(opts.env)} if opts.env else None
    kwargs: dict[str, Any] = {"log_to_driver": False, "include_dashboard": False}
    if opts.address:
        ray.init(address=opts.address, runtime_env=env, **kwargs)
    else:
        cpus = max(1, round(opts.workers * opts.cpus_per_worker))
        ray.init(num_cpus=cpus, runtime_env=env, **kwargs)
    return True


class RayPool:
    """`with RayPool(factory, options) as pool: for event in pool.run(items): ...`

    The actors live as long as the pool, so a model a worker loaded for one batch of items
    serves the next batch too. A local Ray instance started here is shut down on exit."""

    def __init__(self, factory: Callable[[], Worker], options: PoolOptions | None = None):
        self.options = options or PoolOptions()
        if self.options.workers < 1:
            raise UsageError("--workers must be at least 1")
        self.factory = factory
        self._ray: Any = None
        self._started = False
        self._actors: list[Any] = []

    def __enter__(self) -> RayPool:
        self._ray = require_ray()
        self._started = _init(self._ray, self.options)
        return self

    def __exit__(self, *exc: object) -> None:
        for actor in self._actors:
            with contextlib.suppress(Exception):  # already gone
                self._ray.kill(actor)
        self._actors.clear()
        if self._started:
            self._ray.shutdown()

    def _ensure_actors(self, wanted: int) -> None:
        opts = self.options
        cls = _actor_class(self._ray).options(
            num_cpus=opts.cpus_per_worker,
            num_gpus=opts.gpus_per_worker,
            max_restarts=-1,
            max_task_retries=0,
        )
        while len(self._actors) < min(opts.workers, wanted):
            self._actors.append(cls.remote(self.factory, len(self._actors)))

    def run(self, items: Iterable[WorkItem]) -> Iterator[PoolEvent]:
        """Run every item, largest cost first; yield events as they happen."""
        from ray.exceptions import RayActorError, RayTaskError

        ray, opts = self._ray, self.options
        queue = sorted(items, key=lambda it: (-it.cost, it.key))
        if len({it.key for it in queue}) != len(queue):
            raise ValueError("work item keys must be unique")
        self._ensure_actors(len(queue))
        idle = list(range(len(self._actors)))
        attempts: dict[str, int] = {}
        running: dict[Any, tuple[WorkItem, int]] = {}
        while queue or running:
            while queue and idle:
                item, w = queue.pop(0), idle.pop(0)
                attempts[item.key] = attempts.get(item.key, 0) + 1
                running[self._actors[w].run.remote(item.payload)] = (item, w)
                yield PoolEvent("start", item.key, w)
            ready, _ = ray.wait(list(running), num_returns=1)
            item, w = running.pop(ready[0])
            idle.append(w)
            try:
                seconds, result = ray.get(ready[0])
            except RayActorError as err:
                if attempts[item.key] > opts.max_retries:
                    yield PoolEvent("failed", item.key, w, error=f"worker lost: {_one_line(err)}")
                    continue
                queue.insert(0, item)  # first in line: it is among the longest
                yield PoolEvent("retry", item.key, w, error="worker lost")
                continue
            except RayTaskError as err:
                cause = err.cause if getattr(err, "cause", None) is not None else err
                yield PoolEvent("failed", item.key, w, error=_one_line(cause))
                continue
            yield PoolEvent("done", item.key, w, seconds=seconds, result=result)


def run_pool(
    items: Iterable[WorkItem],
    factory: Callable[[], Worker],
    options: PoolOptions | None = None,
) -> Iterator[PoolEvent]:
    """One batch of items on a pool of its own (see `RayPool`)."""
    with RayPool(factory, options) as pool:
        yield from pool.run(items)


def _one_line(err: BaseException) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
