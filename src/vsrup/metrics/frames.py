"""Thin PyAV helpers for the metrics, degrade, compare and bench tools: RGB frames in and out.

These tools only need decoded 8-bit RGB frames (one at a time) and a simple encoder, not the
full-fidelity path `vsrup upscale` uses (audio, subtitles, timestamps, 10-bit), so they keep
their own small reader and writer.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from vsrup.errors import EncodeError, InputError, OutputError


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: Fraction
    #: Frame count from the container header; None when the container does not say.
    frames: int | None


def _open(path: Path) -> Any:
    import av

    if not path.exists():
        raise InputError("no such file", path=path)
    if path.is_dir():
        raise InputError("is a directory, not a video", path=path)
    try:
        container = av.open(str(path))
    except av.error.FFmpegError as exc:
        raise InputError(f"cannot open as a video ({exc.strerror or exc})", path=path) from None
    if not container.streams.video:
        container.close()
        raise InputError("has no video stream", path=path)
    return container


def probe(path: str | Path) -> VideoInfo:
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or Fraction(25)
        return VideoInfo(
            width=stream.codec_context.width,
            height=stream.codec_context.height,
            fps=Fraction(rate),
            frames=stream.frames or None,
        )
    finally:
        container.close()


def read_rgb(path: str | Path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Yield frames [start, stop) of the first video stream as (H, W, 3) uint8 RGB arrays."""
    import av

    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        try:
            for frame in container.decode(stream):
                if stop is not None and index >= stop:
                    break
                if index >= start:
                    yield frame.to_ndarray(format="rgb24")
                index += 1
        except av.error.FFmpegError as exc:
            raise InputError(f"decoding failed at frame {index} ({exc})", path=path) from None
    finally:
        container.close()


class RgbWriter:
    """Encode (H, W, 3) uint8 RGB frames into a video, atomically.

    Frames go to a temporary file next to `path`, renamed onto `path` only when the writer is
    closed without an exception, so a failed run never leaves a half-written file behind.
    """

    def __init__(
        self,
        path: str | Path,
        fps: Fraction | float = 25,
        codec: str = "libx264",
        options: dict[str, str] | None = None,
        pix_fmt: str | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise OutputError("is a directory", path=self.path)
        if not self.path.parent.exists():
            raise OutputError("the folder does not exist", path=self.path)
        self._tmp = self.path.with_name(f".{self.path.name}.part{self.path.suffix}")
        self._fps = Fraction(fps).limit_denominator(100000)
        self._codec = codec
        self._options = options if options is not None else {"crf": "16", "preset": "medium"}
        self._pix_fmt = pix_fmt
        self._container: Any = None
        self._stream: Any = None
        self.count = 0

    def write(self, rgb: np.ndarray) -> None:
        import av

        if self._container is None:
            self._start(rgb.shape[1], rgb.shape[0])
        if rgb.shape[:2] != (self._stream.height, self._stream.width):
            raise ValueError("all frames of a video must have the same size")
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except av.error.FFmpegError as exc:
            raise EncodeError(f"encoding failed ({exc})", path=self.path) from None
        self.count += 1

    def _start(self, width: int, height: int) -> None:
        import av

        pix_fmt = self._pix_fmt or ("yuv420p" if self._codec in ("libx264", "h264") else None)
        if pix_fmt == "yuv420p" and (width % 2 or height % 2):
            pix_fmt = "yuv444p"  # 4:2:0 needs even sizes; 4:4:4 keeps odd sizes exact
        try:
            self._container = av.open(str(self._tmp), "w")
            self._stream = self._container.add_stream(self._codec, rate=self._fps)
        except av.error.FFmpegError as exc:
            raise EncodeError(
                f"cannot start the {self._codec} encoder ({exc})", path=self.path
            ) from None
        self._stream.width, self._stream.height = width, height
        if pix_fmt:
            self._stream.pix_fmt = pix_fmt
        self._stream.options = dict(self._options)

    def close(self, ok: bool = True) -> None:
        import av

        if self._container is None:
            if ok:
                raise EncodeError("no frames to write", path=self.path)
            return
        try:
            if ok:
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
        except av.error.FFmpegError as exc:
            ok = False
            raise EncodeError(f"encoding failed ({exc})", path=self.path) from None
        finally:
            try:
                self._container.close()
            finally:
                self._container = None
                if not ok:
                    self._tmp.unlink(missing_ok=True)
        os.replace(self._tmp, self.path)

    def __enter__(self) -> RgbWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(ok=exc_type is None)
