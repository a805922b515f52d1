"""A small reader for ncnn models (`.param` graph text + `.bin` weights).

It parses the graph and the weights of the layer types our offline models use, so that a
converter can map them onto a PyTorch state dict. It does not run the graph: the PyTorch
architectures in `vsrup.nn` do that, and tests compare them against pip `ncnn`.

Format facts this relies on:
- `.param`: the magic number 7767517, then "<layers> <blobs>", then one line per layer:
  type, name, input count, output count, input blob names, output blob names, `k=v` params.
  A key `-23300-k` holds an array for param k, written as `count,v1,v2,...`.
- `.bin`: weights in layer order. Convolution/Deconvolution weights start with a 4-byte tag
  (0 = fp32, 0x01306B47 = fp16 padded to 4 bytes); biases, PReLU slopes and MemoryData are raw
  fp32 without a tag. A correct read ends exactly at the end of the file, which is how a
  mismatched or truncated pair is caught.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vsrup.errors import WeightsError

MAGIC = 7767517
TAG_FP32 = 0
TAG_FP16 = 0x01306B47

#: Layer types that carry no weights in the .bin file.
WEIGHTLESS = frozenset(
    {
        "Input",
        "Split",
        "Concat",
        "Crop",
        "Slice",
        "BinaryOp",
        "UnaryOp",
        "Eltwise",
        "ReLU",
        "Sigmoid",
        "Swish",
        "TanH",
        "Clip",
        "Interp",
        "PixelShuffle",
        "Reshape",
        "Permute",
        "Flatten",
        "Pooling",
        "Noop",
    }
)

ParamValue = int | float | list[int | float]


@dataclass
class Layer:
    """One layer of the graph, with its parameters and (after `read_bin`) its weights."""

    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, ParamValue] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)

    def get(self, key: int, default: ParamValue) -> ParamValue:
        return self.params.get(key, default)


@dataclass
class Graph:
    layers: list[Layer]
    path: Path | None = None

    def of_type(self, *types: str) -> list[Layer]:
        return [layer for layer in self.layers if layer.type in types]

    def producer(self, blob: str) -> Layer:
        for layer in self.layers:
            if blob in layer.outputs:
                return layer
        raise WeightsError(f"no layer produces blob {blob!r}", path=self.path)

    def consumers(self, blob: str) -> list[Layer]:
        return [layer for layer in self.layers if blob in layer.inputs]


def _number(text: str) -> int | float:
    # ncnn writes floats with a '.' or an exponent; everything else is an int.
    if any(ch in text for ch in ".eE") and not text.lstrip("-").isdigit():
        return float(text)
    return int(text)


def _parse_params(tokens: list[str], path: Path, lineno: int) -> dict[int, ParamValue]:
    params: dict[int, ParamValue] = {}
    for token in tokens:
        key_text, sep, value = token.partition("=")
        if not sep:
            raise WeightsError(f"line {lineno}: bad parameter {token!r}", path=path)
        try:
            key = int(key_text)
            if key <= -23300:
                items = value.split(",")
                count = int(items[0])
                values = [_number(v) for v in items[1:]]
                if len(values) != count:
                    raise ValueError("array length")
                params[-key - 23300] = values
            else:
                params[key] = _number(value)
        except ValueError:
            raise WeightsError(f"line {lineno}: bad parameter {token!r}", path=path) from None
    return params


def read_param(path: Path) -> Graph:
    """Parse a text `.param` file into a Graph (no weights yet)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise WeightsError(f"cannot read ncnn param file ({exc})", path=path) from None
    lines = [line for line in lines if line.strip()]
    if not lines or lines[0].strip() != str(MAGIC):
        raise WeightsError("not an ncnn .param file (bad magic number)", path=path)
    try:
        layer_count, _blob_count = (int(v) for v in lines[1].split())
    except (IndexError, ValueError):
        raise WeightsError("not an ncnn .param file (bad counts line)", path=path) from None
    body = lines[2:]
    if len(body) != layer_count:
        raise WeightsError(
            f"declares {layer_count} layers but has {len(body)} layer lines", path=path
        )
    layers = []
    for lineno, line in enumerate(body, start=3):
        tokens = line.split()
        try:
            kind, name, n_in, n_out = tokens[0], tokens[1], int(tokens[2]), int(tokens[3])
        except (IndexError, ValueError):
            raise WeightsError(f"line {lineno}: bad layer line", path=path) from None
        blobs = tokens[4 : 4 + n_in + n_out]
        if len(blobs) != n_in + n_out:
            raise WeightsError(f"line {lineno}: missing blob names", path=path)
        params = _parse_params(tokens[4 + n_in + n_out :], path, lineno)
        layers.append(Layer(kind, name, blobs[:n_in], blobs[n_in:], params))
    return Graph(layers, path)


class _Reader:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, nbytes: int, what: str) -> bytes:
        if self.pos + nbytes > len(self.data):
            raise WeightsError(
                f"ncnn .bin ends early while reading {what} "
                f"(needs {self.pos + nbytes} bytes, has {len(self.data)}): "
                "the .bin does not belong to this .param or is truncated",
                path=self.path,
            )
        chunk = self.data[self.pos : self.pos + nbytes]
        self.pos += nbytes
        return chunk

    def raw_fp32(self, count: int, what: str) -> np.ndarray:
        return np.frombuffer(self.take(4 * count, what), dtype="<f4").astype(np.float32)

    def tagged(self, count: int, what: str) -> np.ndarray:
        tag = int.from_bytes(self.take(4, f"{what} tag"), "little")
        if tag == TAG_FP32:
            return self.raw_fp32(count, what)
        if tag == TAG_FP16:
            values = np.frombuffer(self.take(2 * count, what), dtype="<f2").astype(np.float32)
            self.take((-2 * count) % 4, f"{what} padding")
            return values
        raise WeightsError(
            f"{what}: unsupported weight storage tag 0x{tag:08X} (only fp32 and fp16 are "
            "supported, not int8/quantised models)",
            path=self.path,
        )


def _read_layer(layer: Layer, reader: _Reader) -> None:
    kind = layer.type
    what = f"layer {layer.name!r} ({kind})"
    if kind in ("Convolution", "Deconvolution"):
        if int(layer.get(8, 0)):
            raise WeightsError(f"{what} is int8-quantised; not supported", path=reader.path)
        if int(layer.get(7, 1)) != 1:
            raise WeightsError(f"{what} uses groups; not supported", path=reader.path)
        out_ch = int(layer.get(0, 0))
        kw = int(layer.get(1, 0))
        kh = int(layer.get(11, kw))
        size = int(layer.get(6, 0))
        if out_ch <= 0 or kw <= 0 or size % (out_ch * kw * kh):
            raise WeightsError(f"{what} has inconsistent sizes", path=reader.path)
        in_ch = size // (out_ch * kw * kh)
        weight = reader.tagged(size, f"{what} weights")
        # ncnn stores both kinds as [out, in, kh, kw]; ConvTranspose2d wants [in, out, ...].
        weight = weight.reshape(out_ch, in_ch, kh, kw)
        if kind == "Deconvolution":
            weight = np.ascontiguousarray(weight.transpose(1, 0, 2, 3))
        layer.weights["weight"] = weight
        if int(layer.get(5, 0)):
            layer.weights["bias"] = reader.raw_fp32(out_ch, f"{what} bias")
    elif kind == "PReLU":
        layer.weights["slope"] = reader.raw_fp32(int(layer.get(0, 0)), f"{what} slopes")
    elif kind == "MemoryData":
        w, h, c = int(layer.get(0, 0)), int(layer.get(1, 0)), int(layer.get(2, 0))
        d = int(layer.get(11, 0))
        shape = [s for s in (c, d, h, w) if s]
        layer.weights["data"] = reader.raw_fp32(math.prod(shape), what).reshape(shape)
    elif kind not in WEIGHTLESS:
        raise WeightsError(f"{what}: layer type not supported by vsrup's reader", path=reader.path)


def read_bin(graph: Graph, path: Path) -> Graph:
    """Read the weights for every layer of `graph`; the file must end exactly there."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise WeightsError(f"cannot read ncnn weights ({exc})", path=path) from None
    reader = _Reader(data, path)
    for layer in graph.layers:
        _read_layer(layer, reader)
    if reader.pos != len(data):
        raise WeightsError(
            f"ncnn .bin has {len(data) - reader.pos} bytes left after the last layer: "
            "the .bin does not belong to this .param",
            path=path,
        )
    return graph


def load(param: Path, bin_path: Path | None = None) -> Graph:
    """Parse `param` and its weights (`bin_path`, default: the .bin beside it)."""
    param = Path(param)
    bin_path = Path(bin_path) if bin_path is not None else param.with_suffix(".bin")
    if not bin_path.is_file():
        raise WeightsError("the matching .bin file is missing", path=bin_path)
    return read_bin(read_param(param), bin_path)


def pair(src: Path) -> tuple[Path, Path]:
    """(param, bin) for a path to either file of an ncnn pair."""
    src = Path(src)
    return src.with_suffix(".param"), src.with_suffix(".bin")
