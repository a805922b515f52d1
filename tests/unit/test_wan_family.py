"""The Wan-family methods (stcdit, litevsr, simplegvr) share one base: `methods.wan_family`.

Each method class, its components and its pipeline derive from the shared base, build through
its `from_weights` and run its four stages; and a tiny synthetic run of each gives the frames
recorded before the base existed (`tests/fixtures/wan_family/outputs.safetensors`, written by
`python tests/unit/test_wan_family.py record` on the code of that time), so moving the shared
plumbing changed no output.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from tests.helpers_recorded import Cases, record, replay
from vsrup import methods
from vsrup.engine.runtime import Runtime
from vsrup.interface.method import Clip, MethodOptions

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "wan_family" / "outputs.safetensors"
WAN_METHODS = ("stcdit", "litevsr", "simplegvr")


def _clip(frames: int, seed: int = 1, size: int = 16) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(frames, 3, size, size, generator=g)


def _build(method_id: str, **options):  # noqa: ANN003, ANN202
    torch.manual_seed(11)  # what the run seeds globally must not matter either
    opts = MethodOptions(**{"synthetic_weights": "tiny", "seed": 7, "steps": 2, **options})
    return methods.get(method_id).from_weights(None, Runtime(), opts)


def _litevsr() -> torch.Tensor:
    return _build("litevsr").process(Clip(_clip(1), start=9))


def _simplegvr() -> torch.Tensor:
    return _build("simplegvr", scale=2).process(Clip(_clip(1), start=3))


def _simplegvr_latents() -> torch.Tensor:
    latents = torch.randn(1, 16, 1, 2, 2, generator=torch.Generator().manual_seed(4))
    return _build("simplegvr", scale=2, extra={"attention": "dense"}).upscale_latents(latents)


def _stcdit_window() -> torch.Tensor:
    method = _build("stcdit", scale=1, window=9, variant="large")
    return method.process(Clip(_clip(3), start=5, segment_starts=(0, 2)))


def _stcdit_whole_video() -> torch.Tensor:
    method = _build("stcdit", scale=1)
    method.add_segment(Clip(_clip(2), start=0))
    method.add_segment(Clip(_clip(1, seed=3), start=2))
    return torch.stack(list(method.finish_video()))


CASES: Cases = {
    "litevsr": _litevsr,
    "simplegvr": _simplegvr,
    "simplegvr_latents": _simplegvr_latents,
    "stcdit_window": _stcdit_window,
    "stcdit_whole_video": _stcdit_whole_video,
}


@pytest.mark.parametrize("method_id", WAN_METHODS)
def test_members_subclass_the_base_and_keep_its_build_and_run(method_id: str) -> None:
    from vsrup.methods.wan_family import WanMethod

    cls = methods.get(method_id)
    assert issubclass(cls, WanMethod)
    # One from_weights and one process for the family: a member that grew its own copy again
    # would bypass the shared building and noise seeding.
    for name in ("from_weights", "process", "generator", "scale"):
        assert name not in vars(cls), f"{method_id} overrides WanMethod.{name}"


def test_the_base_registers_without_loading_torch() -> None:
    import subprocess

    code = "import sys, vsrup.methods.wan_family; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("method_id", WAN_METHODS)
def test_members_run_the_four_stages_of_the_shared_pipeline(
    method_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vsrup.methods.wan_family import WanComponents, WanPipeline

    method = _build(method_id, steps=1, window=9)
    assert isinstance(method.parts, WanComponents)
    pipeline_cls = type(method.make_pipeline())
    assert issubclass(pipeline_cls, WanPipeline)
    assert "__call__" not in vars(pipeline_cls)  # the staged entry point is the base's
    stages: list[str] = []
    for stage in ("prepare", "encode", "denoise", "decode"):
        real = getattr(pipeline_cls, stage)

        def record(self, *args, _stage=stage, _real=real):  # noqa: ANN001, ANN002, ANN202
            stages.append(_stage)
            return _real(self, *args)

        monkeypatch.setattr(pipeline_cls, stage, record)
    with torch.no_grad():
        out = method.process(Clip(_clip(1), start=0))
    assert stages == ["prepare", "encode", "denoise", "decode"]
    assert out.shape == (1, 3, 16 * method.scale, 16 * method.scale)


def test_trained_weights_are_refused_by_members_without_them() -> None:
    from vsrup.errors import UsageError
    from vsrup.methods.wan_family import WanMethod

    # Every member takes --weights now (stcdit a LoRA fine-tune): the base's default refuses.
    stcdit = methods.get("stcdit")
    assert stcdit.own_weights is None and stcdit.lora_weights
    with pytest.raises(UsageError, match="stcdit takes no --weights"):
        WanMethod.with_trained.__func__(stcdit, None, Path("trained"), MethodOptions())


@pytest.mark.parametrize("name", list(CASES))
def test_tiny_run_gives_the_frames_recorded_before_the_shared_base(name: str) -> None:
    got, expected = replay(FIXTURE, name, CASES)
    # Same code path, same seed: only CPU kernels that differ in the last bit between machines
    # may move a value, far below anything a changed stage would (outputs are in [0, 1]).
    torch.testing.assert_close(got, expected, atol=1e-6, rtol=0)


if __name__ == "__main__" and sys.argv[1:] == ["record"]:
    record(FIXTURE, CASES)
