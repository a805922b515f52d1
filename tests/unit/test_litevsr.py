"""LiteVSR on tiny Wan2.2-class configs: the frozen base is untouched by a fresh adapter, the
query window tiles to any size, x̂0 actually steers the output, the unrolling schedule, the
importer's strict key check, and whole clips of awkward lengths."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import save_file

from vsrup.errors import WeightsError
from vsrup.methods.litevsr import pipeline
from vsrup.methods.litevsr.adapter import StateAwareAdapter
from vsrup.methods.litevsr.config import TINY_ADAPTER
from vsrup.methods.litevsr.convert import convert_ours
from vsrup.methods.litevsr.schedule import unroll_depth, unrolled_estimate


@pytest.fixture(scope="module")
def parts() -> pipeline.LiteVSRComponents:
    return pipeline.synthetic_components("tiny", torch.device("cpu"), torch.float32, seed=0)


def _inputs(seed: int = 0) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    latents = torch.randn(1, 48, 2, 4, 6, generator=g)
    return latents, torch.randn(latents.shape, generator=g), torch.tensor([700.0])


def test_fresh_adapter_leaves_frozen_base_output_unchanged(parts) -> None:
    latents, lq, t = _inputs()
    with torch.no_grad():
        ours = parts.model(latents, t, parts.prompt_embeds, lq, lq)
        base = parts.model.transformer(latents, t, parts.prompt_embeds, return_dict=False)[0]
    assert torch.allclose(ours, base, atol=1e-5)


def test_base_is_frozen_and_only_adapter_trains(parts) -> None:
    assert not any(p.requires_grad for p in parts.model.transformer.parameters())
    trainable = parts.model.trainable_parameters()
    assert trainable and sum(p.numel() for p in trainable) == sum(
        p.numel() for p in parts.model.adapter.parameters()
    )


@pytest.mark.parametrize("grid", [(1, 4, 4), (3, 5, 3), (2, 9, 7)])
def test_query_window_tiles_to_odd_sizes(grid: tuple[int, int, int]) -> None:
    adapter = StateAwareAdapter(**TINY_ADAPTER)  # window (1, 4, 4) latent = (1, 2, 2) tokens
    q = adapter.tiled_query(grid)
    f, h, w = grid
    assert q.shape == (1, f * h * w, TINY_ADAPTER["dim"])
    proto = adapter.query_prototype.reshape(1, 2, 2, -1)
    grid_q = q.reshape(f, h, w, -1)
    for fi, hi, wi in [(0, 0, 0), (f - 1, h - 1, w - 1), (f // 2, h // 2, w // 2)]:
        assert torch.equal(grid_q[fi, hi, wi], proto[0, hi % 2, wi % 2])


def test_refinement_stream_consumes_clean_estimate(parts) -> None:
    """With (training-free) random injections, a different x̂0 must change the velocity."""
    latents, lq, t = _inputs(1)
    adapter = parts.model.adapter
    saved = {k: v.clone() for k, v in adapter.injections.state_dict().items()}
    try:
        torch.manual_seed(3)
        for layer in adapter.injections:
            torch.nn.init.normal_(layer.weight, std=0.2)
        with torch.no_grad():
            a = parts.model(latents, t, parts.prompt_embeds, lq, lq)
            b = parts.model(latents, t, parts.prompt_embeds, lq, lq + torch.randn_like(lq))
            c = parts.model(latents, t, parts.prompt_embeds, lq, lq)
        assert torch.equal(a, c)
        assert (a - b).abs().max() > 1e-4
    finally:
        adapter.injections.load_state_dict(saved)


def test_unroll_depth_schedule() -> None:
    assert unroll_depth(1.0) == 0 and unroll_depth(0.0) == 3
    values = [unroll_depth(i / 100) for i in range(101)]
    assert all(a >= b for a, b in zip(values, values[1:])), "depth must fall as t rises"
    # Sharpness 5 keeps most of the trajectory shallow: t = 0.5 maps to t_s = 0.83 → 1 pass.
    assert unroll_depth(0.5) == 1
    assert unroll_depth(0.05, sharpness=5) == 3 and unroll_depth(0.05, sharpness=1) == 3
    assert (
        unroll_depth(0.5, max_depth=5) == 1 and unroll_depth(0.2, max_depth=5) == 3
    )  # t_s = 0.556
    with pytest.raises(ValueError):
        unroll_depth(1.5)


def test_unrolled_estimate_iterates_the_velocity() -> None:
    calls: list[torch.Tensor] = []

    def velocity(noisy: torch.Tensor, estimate: torch.Tensor) -> torch.Tensor:
        calls.append(estimate)
        return noisy - estimate  # a contraction toward x̂0 = noisy·(1-σ)/(1-σ)...

    x = torch.ones(3)
    est = unrolled_estimate(velocity, x, 0.5, torch.zeros(3), depth=2)
    assert len(calls) == 2
    # x̂1 = 1 − 0.5·(1 − 0) = 0.5; x̂2 = 1 − 0.5·(1 − 0.5) = 0.75
    assert torch.allclose(est, torch.full((3,), 0.75))


@pytest.mark.parametrize("frames", [1, 2, 6])
def test_clip_upscale_keeps_frame_count_and_is_seeded(parts, frames: int) -> None:
    x = torch.rand(frames, 3, 12, 20)
    out1 = pipeline.upscale_clip(parts, x, 2, torch.Generator().manual_seed(5))
    out2 = pipeline.upscale_clip(parts, x, 2, torch.Generator().manual_seed(5))
    assert out1.shape == (frames, 3, 48, 80)
    assert torch.equal(out1, out2)
    assert float(out1.min()) >= 0 and float(out1.max()) <= 1


def test_import_round_trip_and_strict_key_check(tmp_path) -> None:
    adapter = StateAwareAdapter(**TINY_ADAPTER)
    src = tmp_path / "adapter.safetensors"
    save_file(adapter.state_dict(), src, metadata={"config": json.dumps(dict(adapter.config))})
    out = convert_ours(src, tmp_path / "litevsr")
    loaded = pipeline.load_adapter(out.parent)
    for k, v in adapter.state_dict().items():
        assert torch.equal(loaded.state_dict()[k], v)

    # Without metadata, the config is inferred from shapes (a .pt file, loaded safely).
    pt = tmp_path / "adapter.pt"
    torch.save(adapter.state_dict(), pt)
    convert_ours(pt, tmp_path / "litevsr2")

    broken = dict(adapter.state_dict())
    broken.pop("to_q.weight")
    broken["extra.weight"] = torch.zeros(1)
    bad = tmp_path / "bad.safetensors"
    save_file(broken, bad, metadata={"config": json.dumps(dict(adapter.config))})
    with pytest.raises(WeightsError, match="to_q.weight"):
        convert_ours(bad, tmp_path / "litevsr3")
    assert not (tmp_path / "litevsr3" / "model.safetensors").exists()


def test_pickle_with_code_is_refused(tmp_path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pt"
    torch.save({"x": Evil()}, path)
    with pytest.raises(WeightsError, match="safely"):
        convert_ours(path, tmp_path / "out")


def test_models_info_prints_adapter_size_and_injection_points() -> None:
    from typer.testing import CliRunner

    from vsrup.cli.app import app

    result = CliRunner().invoke(app, ["models", "info", "litevsr"])
    assert result.exit_code == 0, result.output
    assert "State-Aware Adapter (trainable): 502.5 M" in result.output
    assert "after each of the 30 DiT blocks" in result.output


@pytest.mark.parametrize("method_id", ["litevsr", "simplegvr", "stcdit", "stablevsr", "dgaf"])
def test_steps_default_and_zero_steps_is_refused(method_id: str) -> None:
    from vsrup import methods
    from vsrup.errors import MethodError
    from vsrup.interface.method import MethodOptions

    cls = methods.get(method_id)
    assert cls.steps_for(MethodOptions()) == cls.spec.default_steps
    assert cls.steps_for(MethodOptions(steps=3)) == 3
    with pytest.raises(MethodError, match="--steps must be at least 1"):
        cls.steps_for(MethodOptions(steps=0))
