"""The SD-family pipelines are staged classes (`sd_family.SDPipeline`): each run goes through
prepare → encode → denoise → decode, and StableVSR's whole-sequence run composes the same
pieces of the pipeline instead of its own copies. (That the outputs did not change is
`test_sd_family.py`'s recorded-output test.)"""

from __future__ import annotations

import pytest
import torch

from vsrup import methods
from vsrup.engine.runtime import Runtime
from vsrup.interface.method import Clip, MethodOptions

#: One DDIM step and one RAFT refinement keep the flow-guided runs cheap on a CPU.
FLOW_GUIDED = {"scheduler": "ddim", "flow_updates": "1"}


def _build(method_id: str, **options):  # noqa: ANN003, ANN202
    opts = MethodOptions(**{"synthetic_weights": "tiny", "seed": 7, **options})
    return methods.get(method_id).from_weights(None, Runtime(), opts)


def _clip(frames: int, h: int = 8, w: int = 8) -> torch.Tensor:
    return torch.rand(frames, 3, h, w, generator=torch.Generator().manual_seed(1))


def _record(monkeypatch: pytest.MonkeyPatch, cls: type, names: tuple[str, ...]) -> list[str]:
    """Calls of `cls`'s methods `names`, in order (each still runs)."""
    calls: list[str] = []
    for name in names:
        real = getattr(cls, name)

        def spy(self, *args, _name=name, _real=real, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            calls.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(cls, name, spy)
    return calls


STAGES = ("prepare", "encode", "denoise", "decode")


@pytest.mark.parametrize("method_id", ["stablevsr", "dgaf"])
def test_flow_guided_pipelines_run_the_four_stages(
    method_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vsrup.methods.sd_family import SDPipeline
    from vsrup.methods.stablevsr.pipeline import FlowGuidedPipeline

    method = _build(method_id, steps=1, window=2, extra=FLOW_GUIDED)
    cls = type(method.pipeline)
    assert issubclass(cls, FlowGuidedPipeline) and issubclass(cls, SDPipeline)
    assert "__call__" not in vars(cls)  # the staged entry point is FlowGuidedPipeline's
    calls = _record(monkeypatch, cls, STAGES)
    out = method.process(Clip(_clip(2)))
    assert calls == list(STAGES)
    assert out.shape == (2, 3, 32, 32) and out.min() >= 0 and out.max() <= 1


def test_dloral_prepares_and_encodes_each_frame_once_then_denoises_and_decodes_each_pair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vsrup.methods.dloral.pipeline import PairRunner
    from vsrup.methods.sd_family import SDPipeline

    method = _build("dloral")
    assert isinstance(method.runner, PairRunner) and isinstance(method.runner, SDPipeline)
    calls = _record(monkeypatch, PairRunner, (*STAGES, "finish"))
    out = method.process(Clip(_clip(3, 8, 12), start=4, context=1))
    per_frame = ["prepare", "encode"] * 3
    per_pair = ["denoise", "decode", "finish"] * 2  # the context frame is only "previous"
    assert calls == per_frame + per_pair
    assert out.shape == (3, 3, 32, 48) and not out[0].any()  # the context frame's slot


def test_the_whole_sequence_run_composes_the_pipelines_pieces(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from vsrup.methods.stablevsr.pipeline import FlowGuidedPipeline

    method = _build("stablevsr", steps=1, extra=FLOW_GUIDED)
    cls = type(method.pipeline)
    calls = _record(monkeypatch, cls, ("prepare", "flows", "plain", "guided", "decode"))
    method.add_segment(Clip(_clip(2), start=0))
    method.add_segment(Clip(_clip(1), start=2))
    frames = list(method.finish_video())
    assert len(frames) == 3
    # Frames arrive in two pieces; two neighbour pairs; one step: a plain first frame, then
    # two guided ones; each frame decoded alone.
    expected = ["prepare"] * 2 + ["flows"] * 2 + ["plain"] + ["guided"] * 2 + ["decode"] * 3
    assert calls == expected
    assert issubclass(cls, FlowGuidedPipeline)
