"""`--offload model` and `--compile` reach every diffusion method: accelerate's hooks are
installed on each of its networks and the output does not change (CPU, tiny weights).
`--offload sequential` is refused (it changed DLoRAL's output)."""

from __future__ import annotations

import pytest
import torch

from vsrup import methods
from vsrup.engine.placement import apply_placement, top_level_modules
from vsrup.engine.runtime import Runtime
from vsrup.interface.method import Clip, MethodOptions

DIFFUSION = [m for m in methods.ids() if methods.get(m).spec.kind == "diffusion"]


def build(method_id: str):
    cls = methods.get(method_id)
    steps = None if method_id == "dloral" else 2
    options = MethodOptions(synthetic_weights="tiny", scale=cls.spec.scales[0], steps=steps)
    return cls.from_weights(None, Runtime(), options)


def clip_for(method) -> Clip:
    spec = method.spec
    n = 5 if spec.alignment == 4 else 2
    side = max(16, spec.min_size)
    g = torch.Generator().manual_seed(0)
    return Clip(torch.rand(n, 3, side, side, generator=g))


@pytest.mark.parametrize("method_id", DIFFUSION)
def test_offload_hooks_every_network_and_keeps_the_output(method_id, mode="model"):
    torch.manual_seed(0)
    plain = build(method_id)
    clip = clip_for(plain)
    want = plain.process(clip)
    torch.manual_seed(0)
    method = build(method_id)
    names = apply_placement(method, Runtime(offload=mode))
    modules = [m for _, m in top_level_modules(method)]
    assert names and len(modules) == len(names)
    for m in modules:
        hooked = hasattr(m, "_hf_hook") or any(hasattr(c, "_hf_hook") for c in m.modules())
        assert hooked, f"{method_id}: no accelerate hook on {type(m).__name__}"
    got = method.process(clip)
    torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-5)


@pytest.mark.slow
def test_compile_wraps_every_network_and_keeps_the_output():
    method = methods.get("span").from_weights(
        None, Runtime(), MethodOptions(synthetic_weights="tiny", scale=2)
    )
    clip = Clip(torch.rand(1, 3, 16, 16))
    want = method.process(clip)
    apply_placement(method, Runtime(compile=True))
    modules = [m for _, m in top_level_modules(method)]
    assert modules and all(getattr(m, "_compiled_call_impl", None) is not None for m in modules)
    torch.testing.assert_close(method.process(clip), want, atol=1e-4, rtol=1e-4)


def test_sequential_offload_is_refused_until_verified():
    from vsrup.errors import UsageError

    method = methods.get("span").from_weights(
        None, Runtime(), MethodOptions(synthetic_weights="tiny", scale=2)
    )
    with pytest.raises(UsageError, match="--offload model"):
        apply_placement(method, Runtime(offload="sequential"))
