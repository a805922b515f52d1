"""`vsrup upscale --method stablevsr|dgaf --synthetic-weights tiny` end to end on a tiny clip.

RAFT-large is replaced by a zero-flow stand-in here only to keep the CPU time low (it has its
own unit tests); everything else is the real chain: decode, the whole-video run (default) or
`--window N` windows, padding, the tiny diffusion pipeline, encode, mux.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
import torch


class ZeroFlow:
    def __call__(self, a: torch.Tensor, b: torch.Tensor, updates: int = 12) -> torch.Tensor:
        return torch.zeros(a.shape[0], 2, *a.shape[-2:])


@pytest.mark.parametrize(
    ("method", "window"), [("stablevsr", None), ("dgaf", None), ("stablevsr", 2)]
)
def test_upscale_keeps_every_frame_and_timestamp(
    method: str, window: int | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from vsrup import methods
    from vsrup.cli.app import app
    from vsrup.methods.stablevsr import model as stablevsr_model
    from vsrup.video.probe import probe
    from vsrup.video.synth import make_clip

    monkeypatch.setattr(stablevsr_model, "load_flow", lambda *a, **k: ZeroFlow())
    calls = {"whole": 0, "process": 0}
    cls = methods.get(method)
    for name, key in (("finish_video", "whole"), ("process", "process")):
        original = getattr(cls, name)

        def counted(self, *a, _original=original, _key=key, **k):  # noqa: ANN001, ANN002, ANN003, ANN202
            calls[_key] += 1
            return _original(self, *a, **k)

        monkeypatch.setattr(cls, name, counted)
    src = make_clip(tmp_path / "in.mp4", width=32, height=24, frames=3, fps=25, vfr=True)
    out = tmp_path / "out.mp4"
    result = CliRunner().invoke(
        app,
        ["upscale", str(src), "-o", str(out), "--method", method, "--synthetic-weights",
         "tiny", "--steps", "1", "--scale", "4", "--device", "cpu", "--quiet",
         *(["--window", str(window)] if window else [])],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # The whole video in one run by default; --window N: windows through `process`.
    assert calls == ({"whole": 0, "process": 2} if window else {"whole": 1, "process": 0})
    before, after = probe(src), probe(out)
    assert after.video is not None and before.video is not None
    assert after.video.frames == before.video.frames == 3
    assert (after.video.width, after.video.height) == (128, 96)
    t_in = [Fraction(p) * before.video.time_base for p in _pts(src)]
    t_out = [Fraction(p) * after.video.time_base for p in _pts(out)]
    assert [round(float(t), 3) for t in t_out] == [round(float(t), 3) for t in t_in]


def _pts(path: Path) -> list[int]:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return sorted(p.pts for p in c.demux(s) if p.size and p.pts is not None)
