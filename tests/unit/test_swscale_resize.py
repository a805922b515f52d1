"""The integer resampler (libswscale) equals ffmpeg's `scale` filter with the same flags, and
the classical methods use it on integer frames without going through float."""

from __future__ import annotations

import shutil
import subprocess
from fractions import Fraction

import numpy as np
import pytest
import torch

from vsrup import methods
from vsrup.interface.method import Clip, MethodOptions
from vsrup.video.scale import FrameScaler, resize_rgb

FFMPEG_FLAGS = {"lanczos": "lanczos", "bicubic": "bicubic", "nearest": "neighbor", "area": "area"}
SIZES = [(160, 90), (240, 135), (107, 61), (40, 22)]  # ×2, ×3, odd, downscale


def _image(dtype: type = np.uint8, shape: tuple[int, int] = (45, 80)) -> np.ndarray:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    return (
        img
        if dtype == np.uint8
        else img.astype(np.uint16) * 257 + rng.integers(0, 257, img.shape).astype(np.uint16)
    )


def _graph_scale(img: np.ndarray, width: int, height: int, flags: str) -> np.ndarray:
    """PyAV's own libavfilter `scale` filter: ffmpeg's filter graph, in-process."""
    import av.filter

    fmt = "rgb24" if img.dtype == np.uint8 else "rgb48le"
    graph = av.filter.Graph()
    src = graph.add_buffer(width=img.shape[1], height=img.shape[0], format=fmt,
                           time_base=Fraction(1, 25))  # fmt: skip
    scale = graph.add("scale", f"{width}:{height}:flags={flags}")
    out_fmt = graph.add("format", fmt)
    sink = graph.add("buffersink")
    src.link_to(scale)
    scale.link_to(out_fmt)
    out_fmt.link_to(sink)
    graph.configure()
    graph.push(av.VideoFrame.from_ndarray(img, format=fmt))
    return graph.pull().to_ndarray()


@pytest.mark.parametrize("kernel", list(FFMPEG_FLAGS))
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_equals_ffmpegs_scale_filter_in_process(kernel: str, dtype: type) -> None:
    img = _image(dtype)
    for width, height in SIZES:
        ours = resize_rgb(img, width, height, kernel)
        ref = _graph_scale(img, width, height, FFMPEG_FLAGS[kernel])
        assert ours.dtype == img.dtype and ours.shape == (height, width, 3)
        # One 8-bit step; for 16-bit frames one 10-bit step (64/65535): ffmpeg's 16-bit path
        # rounds through 15 bits, our nearest replication does not round at all.
        tolerance = 1 if dtype == np.uint8 else 64
        assert np.abs(ours.astype(np.int64) - ref).max() <= tolerance, (kernel, width, height)


@pytest.mark.parametrize("kernel", list(FFMPEG_FLAGS))
def test_equals_the_ffmpeg_binary(kernel: str) -> None:
    exe = shutil.which("ffmpeg")
    if exe is None:
        pytest.skip("no ffmpeg binary on PATH: compared with PyAV's filter graph only")
    img = _image()
    for width, height in SIZES:
        proc = subprocess.run(
            [exe, "-v", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "80x45", "-i", "-",
             "-vf", f"scale={width}:{height}:flags={FFMPEG_FLAGS[kernel]}",
             "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
            input=img.tobytes(), capture_output=True, check=True,
        )  # fmt: skip
        ref = np.frombuffer(proc.stdout, np.uint8).reshape(height, width, 3)
        ours = resize_rgb(img, width, height, kernel)
        assert np.abs(ours.astype(np.int64) - ref).max() <= 1, (kernel, width, height)


def test_nearest_integer_upscale_is_exact_replication_at_16_bits() -> None:
    img = _image(np.uint16)
    out = FrameScaler("nearest").resize(img, 240, 135)
    assert out.dtype == np.uint16
    assert np.array_equal(out, img.repeat(3, axis=0).repeat(3, axis=1))


def test_unknown_kernel_and_bad_frames_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown resize kernel"):
        FrameScaler("sinc")
    with pytest.raises(ValueError, match="uint8/uint16"):
        resize_rgb(np.zeros((4, 4, 3), np.float32), 8, 8)


@pytest.mark.parametrize("kernel", ["nearest", "bicubic", "lanczos"])
@pytest.mark.parametrize("dtype", [torch.uint8, torch.uint16])
def test_classical_methods_keep_integers_on_the_cpu(kernel: str, dtype: torch.dtype) -> None:
    img = _image(np.uint8 if dtype == torch.uint8 else np.uint16)
    # (T, C, H, W) channels-last views, as the reader hands them over.
    frames = torch.from_numpy(np.stack([img, img[::-1].copy()])).permute(0, 3, 1, 2)
    method = methods.get(kernel).from_weights(None, None, MethodOptions(scale=2))
    out = method.process(Clip(frames))
    assert out.dtype == dtype and out.shape == (2, 3, 90, 160)
    want = resize_rgb(img, 160, 90, kernel)
    assert np.array_equal(out[0].permute(1, 2, 0).numpy(), want)


def test_classical_float_frames_keep_the_torch_path() -> None:
    x = torch.rand(1, 3, 9, 11)
    out = methods.get("lanczos").from_weights(None, None, MethodOptions(scale=2)).process(Clip(x))
    assert out.dtype == torch.float32 and out.shape == (1, 3, 18, 22)
