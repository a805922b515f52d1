"""Attach stage timers to a method class for the length of a benchmark, without touching it.

`instrumented(cls)` patches, and afterwards restores:
- `cls.from_weights`: timed as stage `load`; the object it returns is then instrumented;
- the instance's `process` and `flush`: stage `method` (everything the method does);
- inside it, diffusers VAEs found among the method's components (classes named
  `Autoencoder*` with `encode`/`decode`): stages `vae_encode` / `vae_decode`;
- the denoiser: the first-level component modules whose class name says transformer, UNet,
  ControlNet, DiT or a method's own `*Model` wrapper (text and image encoders excluded), whose
  `forward` is timed as stage `denoise` (so it includes every sampling step's network call,
  and the scheduler's arithmetic between them stays in `method`).

Components are found by walking the method instance's attributes one or two levels deep
(plain objects and dataclasses such as a `components` holder), never inside nn.Modules: the
first module met on a path is the one timed, so nested modules are not counted twice.
A method can always add its own `StageTimer` calls for finer or different stages.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from vsrup.util.timing import StageTimer

_DENOISER = re.compile(r"(Transformer|UNet|Unet|ControlNet|DiT|Model$)")
_NOT_DENOISER = re.compile(r"(Text|Encoder|Tokenizer|CLIP|T5|Vision|RAM|Flow|RAFT|Autoencoder)")


def _timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with StageTimer(name):
            return fn(*args, **kwargs)

    wrapper.__vsrup_timed__ = True  # type: ignore[attr-defined]
    return wrapper


def _components(obj: Any, depth: int = 2) -> Iterator[Any]:
    """Modules reachable through plain attributes of `obj` (not through other modules)."""
    import torch

    seen: set[int] = set()

    def walk(o: Any, level: int) -> Iterator[Any]:
        attrs = getattr(o, "__dict__", None)
        if not isinstance(attrs, dict):
            return
        for value in list(attrs.values()):
            if id(value) in seen:
                continue
            seen.add(id(value))
            if isinstance(value, torch.nn.Module):
                yield value
            elif level > 0 and not isinstance(value, (str, bytes, int, float, torch.Tensor)):
                yield from walk(value, level - 1)

    yield from walk(obj, depth)


def instrument_instance(method: Any) -> None:
    """Wrap `process`/`flush` and the method's VAE and denoiser components (idempotent)."""
    for name in ("process", "flush"):
        fn = getattr(method, name)
        if not getattr(fn, "__vsrup_timed__", False):
            setattr(method, name, _timed("method", fn))
    for module in _components(method):
        cls_name = type(module).__name__
        if cls_name.startswith("Autoencoder") and hasattr(module, "encode"):
            for attr, stage in (("encode", "vae_encode"), ("decode", "vae_decode")):
                fn = getattr(module, attr, None)
                if fn is not None and not getattr(fn, "__vsrup_timed__", False):
                    # An instance attribute shadows the class's method for this object only.
                    object.__setattr__(module, attr, _timed(stage, fn))
        elif _DENOISER.search(cls_name) and not _NOT_DENOISER.search(cls_name):
            fn = module.forward
            if not getattr(fn, "__vsrup_timed__", False):
                object.__setattr__(module, "forward", _timed("denoise", fn))


@contextmanager
def instrumented(cls: type) -> Iterator[None]:
    """Time `load` and the method's stages for objects built by `cls.from_weights` meanwhile."""
    original = cls.__dict__.get("from_weights")
    bound = cls.from_weights

    def from_weights(klass: type, *args: Any, **kwargs: Any) -> Any:
        with StageTimer("load"):
            method = bound.__func__(klass, *args, **kwargs)
        instrument_instance(method)
        return method

    cls.from_weights = classmethod(from_weights)  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        if original is not None:
            cls.from_weights = original  # type: ignore[method-assign]
        else:
            del cls.from_weights
