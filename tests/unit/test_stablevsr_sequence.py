"""Whole-sequence StableVSR / DGAF-VSR (`video.SequenceRun`): the official result with the
state off the device, and `--resume` after a crash mid-sampling gives the same frames.

The references are the official pipelines' outputs (tests/fixtures/{stablevsr,dgaf}, written
by tools/parity/{stablevsr,dgaf}.py); flows are the fixture's, replayed by a stand-in flow
model in the order our run asks for them (pair by pair: f_i and b_i together).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers_stablevsr import flows_of, load_case, load_weights, lr01, tiny_base

pytestmark = pytest.mark.slow


class _ReplayFlows:
    """A flow model returning the fixture's flows: a call on pair i (targets [i, i−1],
    sources [i−1, i]) gives (f_i, b_i) as (2, 2, H, W)."""

    def __init__(self, fwd: list[torch.Tensor], bwd: list[torch.Tensor]) -> None:
        self.pairs = [torch.cat([f, b]).permute(0, 3, 1, 2) for f, b in zip(fwd, bwd)]
        self.calls = 0

    def __call__(self, targets: torch.Tensor, sources: torch.Tensor, updates: int = 12):  # noqa: ANN204
        assert targets.shape[0] == 2
        out = self.pairs[self.calls]
        self.calls += 1
        return out


def _pipeline(method: str, name: str | None = None):  # noqa: ANN202
    case, meta = load_case(method, name)
    unet, vae, scheduler = tiny_base(meta, method)
    flow = _ReplayFlows(*flows_of(case))
    if method == "stablevsr":
        from diffusers import ControlNetModel

        from vsrup.methods.stablevsr.pipeline import StableVSRPipeline

        controlnet = ControlNetModel.from_unet(
            unet, conditioning_embedding_out_channels=tuple(meta["controlnet_embedding"])
        ).eval()
        controlnet.load_state_dict(load_weights("stablevsr", "controlnet"), strict=True)
        pipe = StableVSRPipeline(
            unet, vae, scheduler, case["prompt_embeds"], flow, controlnet=controlnet
        )
    else:
        from tests.helpers_stablevsr import official_dgafnet
        from vsrup.methods.dgaf.pipeline import DGAFPipeline

        pipe = DGAFPipeline(
            unet, vae, scheduler, case["prompt_embeds"], flow, dgafnet=official_dgafnet()
        )
    return pipe, case, meta


def _run(pipe, case, meta, work: Path | None, resume: bool = False, spill: int = 0):  # noqa: ANN001, ANN202
    from vsrup.methods.stablevsr.video import SequenceRun

    pipe.flow_model.calls = 0
    run = SequenceRun(pipe, meta["steps"], meta["seed"], work, resume, spill_bytes=spill)
    frames = lr01(case)
    run.add(frames[:1])  # frames arrive in pieces, as the engine hands them over
    run.add(frames[1:])
    try:
        return torch.stack(list(run.frames()))
    finally:
        run.close()


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("stablevsr", None),
        ("dgaf", None),
        ("stablevsr", "long"),
        ("stablevsr", "four"),
        ("dgaf", "long"),
    ],
)
def test_sequence_run_equals_the_official_pipeline(
    method: str, name: str | None, tmp_path: Path
) -> None:
    """3 frames (both methods), 14 frames (both methods; longer than the old 12-frame
    window: one official run over all of them) and a 4-frame clip (nothing padded)."""
    pipe, case, meta = _pipeline(method, name)
    out = _run(pipe, case, meta, tmp_path / "work", spill=0)  # every store memory-mapped
    torch.testing.assert_close(out, case["official_hr"], atol=2e-5, rtol=0)


def test_resume_after_a_crash_mid_sampling_gives_the_same_frames(tmp_path: Path) -> None:
    pipe, case, meta = _pipeline("stablevsr")
    clean = _run(pipe, case, meta, tmp_path / "clean")
    step = pipe.scheduler.step
    calls = {"n": 0}
    crash_at = meta["steps"] * case["lr_uint8"].shape[0] // 2 + 1  # inside a middle step

    def crashing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == crash_at:
            raise RuntimeError("simulated crash")
        return step(*args, **kwargs)

    pipe.scheduler.step = crashing
    with pytest.raises(RuntimeError, match="simulated crash"):
        _run(pipe, case, meta, tmp_path / "work")
    pipe.scheduler.step = step
    state = (tmp_path / "work" / "latents" / "latent_steps.json").read_text()
    assert '"step": 0' not in state  # finished steps were kept
    resumed = _run(pipe, case, meta, tmp_path / "work", resume=True)
    torch.testing.assert_close(resumed, clean, atol=0, rtol=0)


@pytest.mark.parametrize("frames", [14, 4])
def test_whole_video_run_keeps_its_state_on_disk_and_returns_every_frame(
    frames: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Through the method's whole-video interface (what the engine calls): a clip longer than
    the old 12-frame window and a 4-frame clip (no padding to 12), with every store forced
    into memory-mapped files whose sizes are what `bytes_per_frame` says (the figure the docs
    quote per minute of 1080p)."""
    from vsrup.interface.method import Clip, MethodOptions
    from vsrup.interface.runtime import Runtime
    from vsrup.methods import get
    from vsrup.methods.stablevsr import video

    extra = {"flow_updates": "1"}
    opts = MethodOptions(synthetic_weights="tiny", steps=2, extra=extra)
    m = get("dgaf").from_weights(None, Runtime(), opts)
    assert m.whole_video()
    seen: dict[str, int] = {}
    close = video.SequenceRun.close

    def measure(run) -> None:  # noqa: ANN001
        for path in run.dir.rglob("*.f32"):
            seen[path.name] = path.stat().st_size
        close(run)

    monkeypatch.setattr(video.SequenceRun, "close", measure)
    monkeypatch.setattr(video, "DEFAULT_SPILL_BYTES", 0)
    m.use_work_dir(tmp_path / "work", resume=False)
    x = torch.rand(frames, 3, 32, 36)
    for i in range(frames):
        m.add_segment(Clip(frames=x[i : i + 1], start=i))
    out = list(m.finish_video())
    assert len(out) == frames and out[0].shape == (3, 128, 144)
    assert float(torch.stack(out).min()) >= 0 and float(torch.stack(out).max()) <= 1
    per_frame = video.bytes_per_frame(32, 36)
    stored = seen["latents_a.f32"] + seen["latents_b.f32"] + seen["lr.f32"]
    stored += seen["flows.f32"] * frames / (frames - 1)  # N−1 flow pairs for N frames
    assert stored == pytest.approx(per_frame * frames)
