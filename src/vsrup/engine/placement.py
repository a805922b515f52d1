"""`--offload model|sequential` and `--compile` for every method, applied by the engine.

Methods build their networks on the runtime's device; the engine then finds the method's
top-level `torch.nn.Module`s (its attributes, through plain objects, dataclasses, lists and
dicts, not inside modules) and

- `model`: accelerate's `cpu_offload_with_hook` on each: a module moves to the device when
  called and every other one goes back to the CPU first, so only one sub-model (text encoder,
  VAE, UNet/DiT) is on the device at a time;
- `sequential`: refused for now: accelerate's per-layer `cpu_offload` changed DLoRAL's output
  in the CPU test, so it is not offered until it is verified for every method;
- `--compile`: `Module.compile()` (torch.compile in place) on each.

Limit: networks are loaded on the device first (methods build them there), so a model that
does not fit the device at all cannot be loaded even with offload; offload lowers the peak
while computing (activations of one sub-model instead of all weights at once).
"""

from __future__ import annotations

import dataclasses
import functools
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from vsrup.engine.runtime import Runtime


#: Objects never searched for networks (pipelines are, callable or not).
_NOT_CONTAINERS = (type, types.FunctionType, types.MethodType, functools.partial, types.ModuleType)


def top_level_modules(obj: Any, depth: int = 4) -> list[tuple[str, torch.nn.Module]]:
    """(attribute path, module) for every nn.Module reachable from `obj`'s attributes,
    without descending into modules; each module once."""
    import torch

    found: list[tuple[str, torch.nn.Module]] = []
    seen: set[int] = set()

    def walk(x: Any, path: str, level: int) -> None:
        if id(x) in seen or level > depth:
            return
        seen.add(id(x))
        if isinstance(x, torch.nn.Module):
            found.append((path, x))
            return
        if isinstance(x, dict):
            items = list(x.items())
        elif isinstance(x, (list, tuple)):
            items = list(enumerate(x))
        elif dataclasses.is_dataclass(x) and not isinstance(x, type):
            items = [(f.name, getattr(x, f.name, None)) for f in dataclasses.fields(x)]
        elif hasattr(x, "__dict__") and not isinstance(x, _NOT_CONTAINERS):
            items = list(vars(x).items())
        else:
            return
        for key, value in items:
            if isinstance(value, (str, bytes, int, float, bool)) or value is None:
                continue
            walk(value, f"{path}.{key}" if path else str(key), level + 1)

    walk(obj, "", 0)
    return found


def apply_placement(method: Any, runtime: Runtime) -> list[str]:
    """Apply the runtime's offload and compile choices to every module of `method`; returns
    the attribute paths of the modules it handled (for messages and tests)."""
    from vsrup.errors import UsageError

    modules = top_level_modules(method)
    if runtime.offload != "none" and not modules:
        raise UsageError(f"--offload {runtime.offload}: {method.spec.id} has no network to "
                         "offload")  # fmt: skip
    device = runtime.torch_device
    if runtime.offload == "model":
        from accelerate import cpu_offload_with_hook

        hooks = [cpu_offload_with_hook(m, execution_device=device)[1] for _, m in modules]
        for i, (_, m) in enumerate(modules):
            others = [h for j, h in enumerate(hooks) if j != i]

            def offload_others(_module: Any, _args: Any, others: list = others) -> None:
                for hook in others:
                    hook.offload()

            m.register_forward_pre_hook(offload_others)
    elif runtime.offload == "sequential":
        # accelerate's per-layer `cpu_offload` changed DLoRAL's output (up to 0.017 on CPU,
        # tests/unit/test_placement.py); refused until every method is verified with it.
        raise UsageError("--offload sequential is not available yet", hint="use --offload model")
    if runtime.compile:
        for _, m in modules:
            m.compile()
    return [name for name, _ in modules]
