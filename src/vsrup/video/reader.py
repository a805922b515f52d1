"""Streaming decode into bounded batches of (T, C, H, W) float tensors with their pts.

Only `batch` frames are alive at once. Pixels are converted by swscale straight to packed
RGB (rgb24, or rgb48 for sources deeper than 8 bits) with the file's colour matrix and range,
copied into one reused uint8/uint16 buffer, and turned into float in a single pass.

A file that stops decoding part-way is never silently shortened: the reader raises
DecodeError naming the frame and time, unless `ignore_errors` is set, in which case damaged
packets are skipped, counted, and reported through `on_warning` at the end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vsrup.errors import DecodeError, UsageError
from vsrup.video.probe import MediaInfo, open_input, probe, scan_video_packets

if TYPE_CHECKING:  # torch is imported where frames become tensors, not to decode
    import torch

#: AVColorSpace → the matrix names swscale understands.
_SWS_MATRIX = {1: "itu709", 4: "fcc", 5: "itu601", 6: "itu601", 7: "smpte240m", 9: "bt2020",
               10: "bt2020"}  # fmt: skip


def assumed_matrix(colorspace: int, height: int) -> int:
    """The YUV matrix to use: the tagged one, else BT.709 for HD and BT.601 for SD (what
    players assume for untagged video). Returned as an AVColorSpace value."""
    if colorspace in _SWS_MATRIX:
        return colorspace
    return 1 if height >= 720 else 6


def sws_matrix(colorspace: int) -> str:
    return _SWS_MATRIX.get(colorspace, "itu601")


@dataclass(frozen=True)
class FrameRange:
    """Which frames to read: indices [start, stop) in presentation order, or a time window
    [start_s, start_s + duration_s) in seconds from the first frame. None = open end."""

    start: int = 0
    stop: int | None = None
    start_s: float | None = None
    duration_s: float | None = None

    @classmethod
    def parse(
        cls, frames: str | None, start: float | None = None, duration: float | None = None
    ) -> FrameRange:
        """`--frames A:B` (either side may be empty) or `--start S --duration D`."""
        if frames and (start is not None or duration is not None):
            raise UsageError("use either --frames or --start/--duration, not both")
        if frames:
            a, sep, b = frames.partition(":")
            try:
                lo = int(a) if a.strip() else 0
                hi = int(b) if b.strip() else None
            except ValueError:
                raise UsageError(f"--frames {frames!r}: expected A:B with frame numbers") from None
            if not sep:
                hi = lo + 1
            if lo < 0 or (hi is not None and hi <= lo):
                raise UsageError(f"--frames {frames!r}: need 0 <= A < B")
            return cls(start=lo, stop=hi)
        if (start is not None and start < 0) or (duration is not None and duration <= 0):
            raise UsageError("--start must be >= 0 and --duration > 0")
        return cls(start_s=start, duration_s=duration)

    @property
    def is_all(self) -> bool:
        return (
            self.start == 0
            and self.stop is None
            and self.start_s is None
            and (self.duration_s is None)
        )


@dataclass
class FrameBatch:
    """Consecutive decoded frames: pixels, their pts (input time base) and the index of the
    first one among the selected frames."""

    frames: torch.Tensor
    pts: list[int]
    index: int


class VideoReader:
    """Iterate a video file as `FrameBatch`es of at most `batch` frames.

    `total` is the number of frames the selection should yield (exact, from demuxing).
    `time_base` is the input video stream's; every batch's pts are in it.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        batch: int = 8,
        frame_range: FrameRange | None = None,
        ignore_errors: bool = False,
        info: MediaInfo | None = None,
        on_warning: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        self.info = info or probe(self.path)
        assert self.info.video is not None
        self.video = self.info.video
        self.batch = max(int(batch), 1)
        self.range = frame_range or FrameRange()
        self.ignore_errors = ignore_errors
        self.on_warning = on_warning
        self.time_base: Fraction = self.video.time_base
        self.deep = self.video.bit_depth > 8
        self.matrix = assumed_matrix(self.video.colorspace, self.video.height)
        self.errors = 0
        self._sorted_pts: list[int] | None = None
        self.first_pts, self.total = self._plan()
        reaches_end = self.range.stop is None and self.range.duration_s is None
        if self.video.missing_frames and reaches_end and not ignore_errors:
            # Known before decoding anything: say so now rather than after the whole job.
            raise DecodeError(
                f"the file is truncated: {self.video.missing_frames} frame(s) promised by its "
                f"header are missing after frame {self.total - 1}",
                path=self.path,
                hint="the file is damaged; --ignore-errors keeps the frames that decode",
            )
        #: Input seconds [start, end) covered by the selection (None = the whole file).
        self.window_s: tuple[float, float | None] | None = self._window()

    # -- selection -------------------------------------------------------------------------
    def _all_pts(self) -> list[int]:
        if self._sorted_pts is None:
            with open_input(self.path) as c:
                self._sorted_pts = sorted(scan_video_packets(c, c.streams[self.video.index]))
        return self._sorted_pts

    def _plan(self) -> tuple[int | None, int]:
        """First selected pts (None = from the start) and the number of selected frames."""
        n = self.video.frames or 0
        r = self.range
        if r.is_all:
            return None, n
        pts = self._all_pts()
        if r.start_s is None and r.duration_s is None:
            stop = min(r.stop if r.stop is not None else n, n)
            if r.start >= n:
                raise UsageError(f"--frames starts at {r.start} but the video has {n} frames")
            return pts[r.start], stop - r.start
        t0 = pts[0] if pts else 0
        start_s = r.start_s or 0.0
        lo = t0 + start_s / self.time_base
        hi = lo + r.duration_s / self.time_base if r.duration_s is not None else None
        chosen = [p for p in pts if p >= lo - 1e-9 and (hi is None or p < hi - 1e-9)]
        if not chosen:
            raise UsageError(f"--start {start_s} is past the end of the video")
        return chosen[0], len(chosen)

    def _window(self) -> tuple[float, float | None] | None:
        if self.range.is_all:
            return None
        pts = self._all_pts()
        i = pts.index(self.first_pts) if self.first_pts in pts else 0
        j = i + self.total
        end = float(pts[j] * self.time_base) if j < len(pts) else None
        return float(self.first_pts * self.time_base), end

    # -- decoding --------------------------------------------------------------------------
    def frames(self) -> Iterator[tuple[np.ndarray, int]]:
        """Yield (H, W, 3) uint8 or uint16 arrays with their pts, for the selected frames."""
        fmt = "rgb48le" if self.deep else "rgb24"
        matrix = sws_matrix(self.matrix)
        for frame in self.av_frames():
            array = frame.to_ndarray(
                format=fmt,
                src_colorspace=matrix,
                dst_colorspace=matrix,
                src_color_range=frame.color_range or None,
                dst_color_range="JPEG",
            )
            yield array, frame.pts

    def av_frames(self) -> Iterator[Any]:
        """Yield the selected frames as decoded (PyAV `VideoFrame`s in the file's own pixel
        format), with the same error handling as `frames`."""
        import av

        decoded = 0
        last_pts: int | None = None
        with open_input(self.path) as container:
            stream = container.streams[self.video.index]
            stream.thread_type = "AUTO"
            if self.first_pts is not None and self.first_pts > (self.video.start_pts or 0):
                container.seek(self.first_pts, stream=stream, backward=True)
            packets = container.demux(stream)
            while decoded < self.total:
                try:
                    packet = next(packets)
                except StopIteration:
                    break
                except av.error.FFmpegError as exc:  # the container itself is damaged here
                    self._fail(exc, decoded, last_pts, fatal=True)
                    break
                try:
                    out = packet.decode()
                except av.error.FFmpegError as exc:
                    self._fail(exc, decoded, last_pts, fatal=False)
                    continue
                for frame in out:
                    if frame.pts is None or (
                        self.first_pts is not None and frame.pts < self.first_pts
                    ):
                        continue
                    if decoded >= self.total:
                        break
                    last_pts = frame.pts
                    decoded += 1
                    yield frame
        missing = self.total - decoded
        what = f"decoding stopped after {decoded} of {self.total} frames"
        reaches_end = self.range.stop is None and self.range.duration_s is None
        if missing == 0 and reaches_end and self.video.missing_frames:
            # Every packet present decoded, but the header promises more: a cut-off file.
            missing = self.video.missing_frames
            what = f"the file is truncated: {missing} frame(s) promised by its header are missing"
        if missing > 0:
            if not self.ignore_errors:
                raise DecodeError(
                    f"{what} ({self._where(decoded, last_pts)})",
                    path=self.path,
                    hint="the file is damaged; --ignore-errors keeps the frames that decode",
                )
            self.errors = max(self.errors, missing)
        if self.errors and self.on_warning is not None:
            self.on_warning(
                f"{self.path}: {self.errors} frame(s) could not be decoded and were skipped"
            )

    def _where(self, decoded: int, last_pts: int | None) -> str:
        if last_pts is None:
            return "at the first frame"
        return f"last good frame {decoded - 1} at t={float(last_pts * self.time_base):.3f} s"

    def _fail(self, exc: Exception, decoded: int, last_pts: int | None, fatal: bool) -> None:
        if not self.ignore_errors:
            reason = getattr(exc, "strerror", None) or str(exc)
            raise DecodeError(
                f"decoding failed {self._where(decoded, last_pts)}: {reason}",
                path=self.path,
                hint="the file is damaged; --ignore-errors keeps the frames that decode",
            ) from None
        self.errors += 1

    def integer_frames(self) -> Iterator[tuple[torch.Tensor, int]]:
        """(C, H, W) uint8/uint16 frames (channels-last views of the decoded RGB, no copy)
        with their pts: the engine's form, converted to float only where a method needs it."""
        import torch

        h, w = self.video.height, self.video.width
        for array, p in self.frames():
            if array.shape[:2] != (h, w):  # a mid-stream size change: rare, but be explicit
                raise DecodeError(
                    f"frame size changed mid-stream to {array.shape[1]}x{array.shape[0]}",
                    path=self.path,
                )
            yield torch.from_numpy(array).permute(2, 0, 1), p

    def __iter__(self) -> Iterator[FrameBatch]:
        """Batches of float32 (T, C, H, W) frames in [0, 1]."""
        import torch

        h, w = self.video.height, self.video.width
        dtype = torch.uint16 if self.deep else torch.uint8
        buf = torch.empty((self.batch, h, w, 3), dtype=dtype)
        pts: list[int] = []
        index = 0
        for chw, p in self.integer_frames():
            buf[len(pts)].copy_(chw.permute(1, 2, 0))
            pts.append(p)
            if len(pts) == self.batch:
                yield FrameBatch(to_float(buf, self.deep), pts, index)
                index += len(pts)
                pts = []
        if pts:
            yield FrameBatch(to_float(buf[: len(pts)], self.deep), pts, index)


def to_float(hwc: torch.Tensor, deep: bool) -> torch.Tensor:
    """(T, H, W, C) uint8/uint16 → contiguous (T, C, H, W) float32 in [0, 1], in one pass."""
    import torch

    scale = 1.0 / (65535.0 if deep else 255.0)
    src = hwc.permute(0, 3, 1, 2)
    if deep:  # uint16 arithmetic is limited in torch; go through int32
        src = src.to(torch.int32)
    out = torch.empty(src.shape, dtype=torch.float32)
    out.copy_(src)
    return out.mul_(scale)
