"""STCDiT's whole-video run (`methods.stcdit.video`): official tile placement, noise drawn
in chunks equal to one `torch.randn`, per-step checkpoints that resume to identical frames,
latents spilled to disk with the device seeing only one tile at a time."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
import torch

from vsrup.engine.latent_store import LatentStore
from vsrup.methods.stcdit import video
from vsrup.methods.stcdit.video import VideoRun, draw_noise, official_starts, weight_sum


def test_official_starts_keep_the_repeated_tile() -> None:
    # 40 latent frames, 21-frame tiles, stride int(21·0.95) = 19: 0, 19, and 38 → 19 again.
    assert official_starts(40, 21, 0.95) == [0, 19, 19]
    assert official_starts(27, 21, 0.95) == [0, 6]
    assert official_starts(5, 21, 0.95) == [0]
    total = weight_sum(40, 21, [0, 19, 19])
    single = weight_sum(40, 21, [0, 19])
    assert torch.allclose(total[19:21], single[19:21] + (total[19:21] - single[19:21]))
    assert torch.all(total[21:] == 2 * single[21:])  # only the repeated tile covers them


def test_noise_equals_one_randn_of_the_whole_video(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(video, "NOISE_CHUNK", 64)  # many chunks, crossing channel boundaries
    frames, channels, h, w = 7, 16, 3, 5
    store = LatentStore((frames, channels, h, w))
    draw_noise(store, seed=42)
    want = torch.randn((1, channels, frames, h, w), generator=torch.Generator().manual_seed(42))
    got = store.read((slice(None),)).permute(1, 0, 2, 3)
    assert torch.equal(got, want[0])


@functools.cache
def _parts(seed: int = 0):  # noqa: ANN202
    from vsrup.methods.stcdit.pipeline import synthetic_parts

    parts = synthetic_parts("tiny", torch.device("cpu"), torch.float32, seed)
    parts.tile_frames, parts.tile_max_hw = 3, (16, 16)  # several 3-D tiles on a tiny clip
    return parts


def _clip(n: int, h: int = 16, w: int = 32) -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.rand(n, 3, h, w, generator=g)


#: 24 one-frame segments → 24 latent frames of 2×4 latents (cheap to encode): temporal
#: tiles of 3 frames (at least 21 latent frames, so --tile_frame_kernel applies) × spatial
#: tiles of 2×2 latents.
SEGMENTS = [(k, k + 1) for k in range(24)]
#: DiT calls per step: distinct tile starts along time, height and width.
PER_STEP = len({*official_starts(24, 3, 0.95)}) * len({*official_starts(4, 2, 0.95)})


def _run(parts, directory: Path | None, resume: bool = False, **kw) -> VideoRun:  # noqa: ANN001
    run = VideoRun(parts, 1, 3, seed=7, directory=directory, resume=resume, **kw)
    clip = _clip(SEGMENTS[-1][1])
    for a, b in SEGMENTS:
        run.add_segment(clip[a:b])
    return run


def test_resume_after_a_crash_inside_a_step_gives_identical_frames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parts = _parts()
    clean = _run(parts, None)
    want = torch.stack(list(clean.frames()))
    clean.close()

    calls = {"n": 0}
    real = video.guided_velocity

    def crashing(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls["n"] += 1
        if calls["n"] == 2 * PER_STEP + 1:  # the first tile of step 3
            raise RuntimeError("killed")
        return real(*args, **kwargs)

    first = _run(parts, tmp_path / "work")
    monkeypatch.setattr(video, "guided_velocity", crashing)
    with pytest.raises(RuntimeError, match="killed"):
        list(first.frames())
    monkeypatch.setattr(video, "guided_velocity", real)

    again = _run(parts, tmp_path / "work", resume=True)
    counted = {"n": 0}

    def counting(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        counted["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(video, "guided_velocity", counting)
    got = torch.stack(list(again.frames(skip_before=0)))
    assert again.states is not None and again.states.step == 3
    assert counted["n"] == PER_STEP  # only step 3 was computed again
    assert torch.equal(got, want)

    # Frames already written are skipped (decoding starts at their segment).
    tail = list(_run(parts, tmp_path / "work", resume=True).frames(skip_before=20))
    assert torch.equal(torch.stack(tail), want[20:])


def test_long_video_spills_to_disk_and_the_device_sees_one_tile(tmp_path: Path) -> None:
    parts = _parts()
    run = _run(parts, tmp_path / "work", spill_bytes=1024)
    frames = list(run.frames())
    assert len(frames) == SEGMENTS[-1][1]
    assert run.lq is not None and run.lq.spilled
    assert run.states is not None and run.states.spilled
    latents = run.lq.shape  # (F, C, h, w)
    assert (tmp_path / "work" / "lq.f32").stat().st_size == run.lq.nbytes
    # One 3-D tile: 3 latent frames × 16 channels × 2×2 latents (16 px tiles), never the video.
    assert run.max_tile_elements == 3 * 16 * 2 * 2
    assert run.max_tile_elements < latents[0] * latents[1] * latents[2] * latents[3] / 4
