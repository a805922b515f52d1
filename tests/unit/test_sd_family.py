"""The SD-family methods (stablevsr, dgaf, dloral) share one base: `methods.sd_family`.

A tiny synthetic run of each gives the frames recorded before the base existed
(`tests/fixtures/sd_family/outputs.safetensors`, written by
`python tests/unit/test_sd_family.py record` on the code of that time), so moving the shared
loading, seeding and placement changed no output.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from vsrup import methods
from vsrup.engine.runtime import Runtime
from vsrup.interface.method import Clip, MethodOptions

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "sd_family" / "outputs.safetensors"
#: One DDIM step and one RAFT refinement keep the flow-guided runs cheap on a CPU.
FLOW_GUIDED = {"scheduler": "ddim", "flow_updates": "1"}


def _clip(frames: int, h: int = 8, w: int = 8, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(frames, 3, h, w, generator=g)


def _build(method_id: str, **options):  # noqa: ANN003, ANN202
    torch.manual_seed(11)  # what the run seeded globally before must not matter
    opts = MethodOptions(**{"synthetic_weights": "tiny", "seed": 7, **options})
    return methods.get(method_id).from_weights(None, Runtime(), opts)


def _stablevsr_window() -> torch.Tensor:
    return _build("stablevsr", steps=2, window=2, extra=FLOW_GUIDED).process(Clip(_clip(2)))


def _stablevsr_whole_video() -> torch.Tensor:
    method = _build("stablevsr", steps=1, extra=FLOW_GUIDED)
    method.add_segment(Clip(_clip(2), start=0))
    method.add_segment(Clip(_clip(1, seed=3), start=2))
    return torch.stack(list(method.finish_video()))


def _dgaf() -> torch.Tensor:
    return _build("dgaf", steps=2, window=2, extra=FLOW_GUIDED).process(Clip(_clip(2)))


def _dloral() -> torch.Tensor:
    return _build("dloral").process(Clip(_clip(3, 8, 12), start=0))


def _dloral_sampled_latent() -> torch.Tensor:
    method = _build("dloral", extra={"latent": "sample"})
    return method.process(Clip(_clip(3, 8, 12, seed=2), start=4, context=1))


CASES: dict[str, Callable[[], torch.Tensor]] = {
    "stablevsr_window": _stablevsr_window,
    "stablevsr_whole_video": _stablevsr_whole_video,
    "dgaf": _dgaf,
    "dloral": _dloral,
    "dloral_sampled_latent": _dloral_sampled_latent,
}


@pytest.mark.parametrize("name", list(CASES))
def test_tiny_run_gives_the_frames_recorded_before_the_shared_base(name: str) -> None:
    from safetensors.torch import load_file

    expected = load_file(FIXTURE)[name]
    with torch.no_grad():
        got = CASES[name]().float().cpu()
    assert got.shape == expected.shape
    # Same code path, same seed: only CPU kernels that differ in the last bit between machines
    # may move a value, far below anything a changed stage would (outputs are in [0, 1]).
    # DLoRAL's output is truncated to 8 bits, where such a last bit can cross a level: one
    # level on a handful of values is allowed there, a changed stage moves thousands.
    if name.startswith("dloral"):
        moved = (got - expected).abs()
        assert float(moved.max()) <= 1 / 255 + 1e-6 and int((moved > 1e-6).sum()) <= 8
    else:
        torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


if __name__ == "__main__" and sys.argv[1:] == ["record"]:
    from safetensors.torch import save_file

    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(2)  # as tests/conftest.py: reductions split the same way
    with torch.no_grad():
        save_file({k: f().float().contiguous().cpu() for k, f in CASES.items()}, FIXTURE)
