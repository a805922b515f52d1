"""The ncnn .param/.bin reader: parameters, weight tags, and exact end-of-file checks."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from tests.helpers_offline import wheel_pair
from vsrup.errors import WeightsError
from vsrup.nn import ncnn

PARAM = """7767517
4 4
Input            in0    0 1 data
Convolution      conv0  1 1 data a 0=2 1=3 4=1 5=1 6=18 9=2 -23310=1,2.000000e-01
PReLU            act0   1 1 a b 0=2
Deconvolution    up0    1 1 b out 0=1 1=2 3=2 5=1 6=8
"""


def _write(tmp_path: Path, fp16: bool, extra: bytes = b"", cut: int = 0) -> Path:
    rng = np.random.default_rng(0)
    conv_w = rng.standard_normal(18).astype(np.float32)
    blob = bytearray()
    if fp16:
        # 18 halves = 36 bytes: already 4-byte aligned, so no padding follows.
        blob += struct.pack("<I", ncnn.TAG_FP16) + conv_w.astype("<f2").tobytes()
    else:
        blob += struct.pack("<I", ncnn.TAG_FP32) + conv_w.tobytes()
    blob += np.array([0.5, -0.5], "<f4").tobytes()  # conv bias (raw, no tag)
    blob += np.array([0.25, 0.1], "<f4").tobytes()  # PReLU slopes (raw)
    deconv_w = np.arange(8, dtype=np.float32)
    blob += struct.pack("<I", ncnn.TAG_FP16) + deconv_w.astype("<f2").tobytes()
    blob += np.array([1.0], "<f4").tobytes()
    blob += extra
    if cut:
        blob = blob[:-cut]
    (tmp_path / "m.param").write_text(PARAM)
    (tmp_path / "m.bin").write_bytes(bytes(blob))
    return tmp_path / "m.param"


@pytest.mark.parametrize("fp16", [False, True])
def test_reads_params_and_weights_in_both_precisions(tmp_path: Path, fp16: bool) -> None:
    graph = ncnn.load(_write(tmp_path, fp16))
    conv, prelu, deconv = graph.layers[1], graph.layers[2], graph.layers[3]
    assert conv.params[0] == 2 and conv.params[10] == [0.2] and conv.inputs == ["data"]
    assert conv.weights["weight"].shape == (2, 1, 3, 3)
    expected = np.random.default_rng(0).standard_normal(18).astype(np.float32)
    if fp16:
        expected = expected.astype(np.float16).astype(np.float32)
    np.testing.assert_array_equal(conv.weights["weight"].reshape(-1), expected)
    np.testing.assert_array_equal(prelu.weights["slope"], np.array([0.25, 0.1], np.float32))
    # Deconvolution weights come out as ConvTranspose2d's (in, out, kh, kw); here in = 2 / 1.
    assert deconv.weights["weight"].shape == (2, 1, 2, 2)
    assert graph.producer("out") is deconv and graph.consumers("a") == [prelu]


def test_fp16_weights_are_padded_to_four_bytes(tmp_path: Path) -> None:
    param = tmp_path / "p.param"
    param.write_text("7767517\n1 1\nConvolution c 0 1 out 0=1 1=1 5=0 6=3\n")
    blob = struct.pack("<I", ncnn.TAG_FP16) + np.ones(3, "<f2").tobytes() + b"\0\0"
    (tmp_path / "p.bin").write_bytes(blob)
    assert ncnn.load(param).layers[0].weights["weight"].shape == (1, 3, 1, 1)
    (tmp_path / "p.bin").write_bytes(blob[:-2])  # padding missing: ends early
    with pytest.raises(WeightsError, match="ends early"):
        ncnn.load(param)


def test_truncated_or_extended_bin_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(WeightsError, match="ends early"):
        ncnn.load(_write(tmp_path, True, cut=4))
    with pytest.raises(WeightsError, match="bytes left"):
        ncnn.load(_write(tmp_path, True, extra=b"\0\0\0\0"))


def test_real_wheel_files_must_end_exactly(tmp_path: Path) -> None:
    param, bin_path = wheel_pair("span-x2-ch48")
    data = bin_path.read_bytes()
    assert len(ncnn.load(param, bin_path).of_type("Convolution")) == 22
    for name, blob in (("short.bin", data[:-1]), ("long.bin", data + b"\0" * 4)):
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(WeightsError):
            ncnn.load(param, tmp_path / name)
    # A .bin of another model with the same layer types does not fit either.
    _, other_bin = wheel_pair("span-x4-ch48")
    with pytest.raises(WeightsError):
        ncnn.load(param, other_bin)


def test_bad_files_name_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "x.param"
    bad.write_text("123\n0 0\n")
    with pytest.raises(WeightsError, match="magic"):
        ncnn.read_param(bad)
    bad.write_text("7767517\n2 2\nInput in 0 1 data\n")
    with pytest.raises(WeightsError, match="declares 2 layers"):
        ncnn.read_param(bad)
    bad.write_text("7767517\n1 1\nConvolution c 0 1 out 0=1 1=1 5=0 6=1\n")
    (tmp_path / "x.bin").write_bytes(struct.pack("<I", 0x000D4B38) + b"\0\0\0\0")
    with pytest.raises(WeightsError, match="unsupported weight storage tag"):
        ncnn.load(bad)
    bad.write_text("7767517\n1 1\nInnerProduct c 0 1 out 0=1\n")
    with pytest.raises(WeightsError, match="not supported"):
        ncnn.load(bad)
