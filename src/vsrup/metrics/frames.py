"""RGB frames in and out for the metrics, degrade, compare and bench tools.

Reading goes through `vsrup.video` (the same reader `vsrup upscale` uses: colour matrix and
range from the file's tags, 10-bit as uint16, frame ranges, damage reporting), one
(H, W, 3) array at a time. Writing has two paths:

- lossy (`lossless=False`): `vsrup.video`'s VideoWriter (x264 at a CRF, tagged colour so the
  reader converts back with the same matrix), inside an AtomicOutput;
- lossless (`lossless=True`): RGB stored exactly, with no YUV matrix involved: FFV1 (bgr0) in
  Matroska/AVI/NUT, x264's RGB mode at QP 0 otherwise. Used for generated clips, LR/GT pairs.

Either way the file appears only when everything was written: a failure leaves nothing.
Size and rate come from `vsrup.video.probe.probe_video`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from vsrup.errors import EncodeError


def read_rgb(path: str | Path, start: int = 0, stop: int | None = None) -> Iterator[np.ndarray]:
    """Yield frames [start, stop) as (H, W, 3) RGB arrays (uint8, or uint16 when deep)."""
    from vsrup.video.reader import FrameRange, VideoReader

    reader = VideoReader(path, frame_range=FrameRange(start=start, stop=stop))
    for array, _pts in reader.frames():
        yield array


def as_u8(frame: np.ndarray) -> np.ndarray:
    """8-bit view of a frame from `read_rgb` (deep sources come as uint16)."""
    if frame.dtype == np.uint8:
        return frame
    return np.clip(np.rint(frame.astype(np.float32) / 257.0), 0, 255).astype(np.uint8)


def _lossless_args(path: Path) -> tuple[str, dict[str, str], str]:
    if path.suffix.lower() in (".mkv", ".avi", ".nut"):
        return "ffv1", {}, "bgr0"
    return "libx264rgb", {"qp": "0", "preset": "medium"}, "rgb24"


class RgbWriter:
    """Encode (H, W, 3) uint8 RGB frames into `path`, atomically (see the module docstring)."""

    def __init__(
        self, path: str | Path, fps: Fraction | float = 25, *, lossless: bool = False, crf: int = 16
    ) -> None:
        from vsrup.video.output import AtomicOutput

        self.path = Path(path)
        self._atomic = AtomicOutput(self.path, overwrite=True)
        self._fps = Fraction(fps).limit_denominator(100000)
        self._lossless = lossless
        self._crf = crf
        self._sink: Any = None  # VideoWriter (lossy) or a PyAV container (lossless)
        self._stream: Any = None
        self._size: tuple[int, int] | None = None
        self.count = 0

    # -- opening ---------------------------------------------------------------------------
    def _start(self, width: int, height: int) -> None:
        self._size = (width, height)
        if self._lossless:
            import av

            codec, options, pix_fmt = _lossless_args(self.path)
            try:
                self._sink = av.open(str(self._atomic.temp), "w")
                self._stream = self._sink.add_stream(codec, rate=self._fps)
            except av.error.FFmpegError as exc:
                raise EncodeError(
                    f"cannot start the {codec} encoder ({exc})", path=self.path
                ) from None
            self._stream.width, self._stream.height = width, height
            self._stream.pix_fmt = pix_fmt
            self._stream.options = options
            return
        from vsrup.video.writer import EncodeSettings, VideoWriter

        # 4:2:0 needs even sizes (the writer would pad); 4:4:4 keeps odd sizes exact.
        pix_fmt = "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"
        self._sink = VideoWriter(
            self._atomic.temp,
            width=width,
            height=height,
            time_base=1 / self._fps,
            fps=self._fps,
            settings=EncodeSettings(codec="libx264", crf=self._crf, pix_fmt=pix_fmt),
            label=str(self.path),
        )

    # -- frames ----------------------------------------------------------------------------
    def write(self, rgb: np.ndarray) -> None:
        if self._sink is None:
            self._start(rgb.shape[1], rgb.shape[0])
        if (rgb.shape[1], rgb.shape[0]) != self._size:
            raise ValueError("all frames of a video must have the same size")
        if self._lossless:
            import av

            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
            frame.pts = self.count
            try:
                self._sink.mux(self._stream.encode(frame))
            except av.error.FFmpegError as exc:
                raise EncodeError(f"encoding failed ({exc})", path=self.path) from None
        else:
            self._sink.write_array(np.ascontiguousarray(rgb)[None], [self.count])
        self.count += 1

    # -- closing ---------------------------------------------------------------------------
    def close(self, ok: bool = True) -> None:
        """Finish the file and move it into place (`ok`), or discard everything."""
        if self._sink is None:
            if ok:
                raise EncodeError("no frames to write", path=self.path)
            return
        sink, self._sink = self._sink, None
        if not ok:
            self._discard(sink)
            return
        try:
            self._finish(sink)
        except BaseException:
            self._discard(sink)
            raise
        self._atomic.__exit__(None, None, None)  # the atomic rename

    def _finish(self, sink: Any) -> None:
        if not self._lossless:
            sink.close()  # VideoWriter: flushes, raises EncodeError on failure
            return
        import av

        try:
            sink.mux(self._stream.encode(None))
            sink.close()
        except av.error.FFmpegError as exc:
            raise EncodeError(f"encoding failed ({exc})", path=self.path) from None

    def _discard(self, sink: Any) -> None:
        with contextlib.suppress(Exception):  # already failing: just release the file
            if self._lossless:
                sink.close()
            else:
                sink.abort()
        self._atomic.cleanup()

    def __enter__(self) -> RgbWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close(ok=exc_type is None)
