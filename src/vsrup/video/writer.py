"""Encode (T, C, H, W) float frames with PyAV, keeping every frame's input timestamp.

The writer owns the output container: the video stream (codec, CRF, preset, pixel format),
the colour tags, SAR, rotation and container metadata copied from the source, and a
`PassThrough` that interleaves the source's audio/subtitle tracks. Frames are given with
their input pts in the input stream's time base and are encoded with exactly those pts, so
VFR stays VFR and no frame is duplicated or dropped.

Odd sizes: encoders of chroma-subsampled formats (4:2:0, 4:2:2) need even dimensions, so
frames are padded on the right/bottom by repeating the last column/row up to the next even
size (at most one pixel each way) and a warning says so; 4:4:4, RGB and FFV1 take odd sizes.

The choice of encoder, pixel format and encoder options is `vsrup.video.codecs` (its names are
importable from here too).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vsrup.errors import EncodeError, UsageError
from vsrup.video.codecs import (
    FORMAT_OF,
    EncodeSettings,
    choose_pix_fmt,
    container_format,
    encoder_options,
    needs_even,
    resolve_encoder,
)
from vsrup.video.encoder_frames import padded_arrays, quantized_frames
from vsrup.video.packet_times import DecodeTimesError, PacketTimes, moved_message
from vsrup.video.probe import VideoInfo
from vsrup.video.reader import assumed_matrix, sws_matrix
from vsrup.video.remux import PassThrough

if TYPE_CHECKING:  # only the float `write` needs torch; encoding integers does not
    import torch

_METADATA_SKIP = {"major_brand", "minor_version", "compatible_brands", "encoder", "duration"}


__all__ = ["EncodeSettings", "VideoWriter", "encoder_options"]


class VideoWriter:
    """Write frames to `path` (the temporary file of an `AtomicOutput`).

    width/height: the frames' size. source: the input's VideoInfo (colour tags, SAR, rotation,
    bit depth). time_base: the input stream's; pts given to `write` are in it. pts_offset is
    subtracted from every pts (previews that start mid-file start at 0).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        width: int,
        height: int,
        time_base: Fraction,
        fps: Fraction | None,
        source: VideoInfo | None = None,
        settings: EncodeSettings | None = None,
        copy_from: str | Path | None = None,
        container_metadata: dict[str, str] | None = None,
        window: tuple[float, float | None] | None = None,
        pts_offset: int = 0,
        warn: Callable[[str], None] | None = None,
        label: str | None = None,
        background: bool = False,
    ) -> None:
        import av

        self.path = Path(path)
        self.label = label or self.path.name  # the name users know (not the temp file's)
        self.shown = Path(label) if label else self.path  # the path named in errors
        self.settings = settings or EncodeSettings()
        self.warn = warn or (lambda _msg: None)
        self.fmt = container_format(self.path)
        deep_source = source is not None and source.bit_depth > 8
        self.encoder = resolve_encoder(self.settings.codec, self.fmt, deep_source, self.warn)
        self.pix_fmt = choose_pix_fmt(self.encoder, source, self.settings.pix_fmt)
        self.width, self.height = width, height
        even_w, even_h = needs_even(self.pix_fmt)
        self.enc_w = width + (width % 2 if even_w else 0)
        self.enc_h = height + (height % 2 if even_h else 0)
        if (self.enc_w, self.enc_h) != (width, height):
            self.warn(f"{self.label}: {width}x{height} cannot be stored in {self.pix_fmt}; "
                      f"padded to {self.enc_w}x{self.enc_h} by repeating the edge (use "
                      "--pix-fmt yuv444p for the exact size)")  # fmt: skip
        self.time_base = Fraction(time_base)
        self.pts_offset = pts_offset
        self.deep = "10" in self.pix_fmt or "12" in self.pix_fmt or "16" in self.pix_fmt
        self.frames_written = 0
        self._last_end_s = 0.0
        self._last_pts: int | None = None
        self.moved = 0  # frames whose repeated timestamp was moved one tick later
        self.source = source
        self._error: BaseException | None = None
        self._queue: queue.Queue | None = queue.Queue(maxsize=2) if background else None
        self._worker: threading.Thread | None = None
        self.matrix = assumed_matrix(source.colorspace, source.height) if source else 1
        self.range = "JPEG" if source is not None and source.color_range == 2 else "MPEG"
        self._options = encoder_options(self.encoder, self.settings)
        self.rate: Fraction | None = None

        try:
            # Keep pts as given: the default shifts Matroska timestamps by the B-frame delay.
            self.out = av.open(
                str(self.path), "w", format=self.fmt, options={"avoid_negative_ts": "disabled"}
            )
        except (av.error.FFmpegError, OSError) as exc:
            raise EncodeError(f"cannot create the output: {exc}", path=self.shown) from None
        try:
            self._setup(fps, container_metadata, copy_from, window)
        except BaseException:
            self.out.close()
            raise
        if self._queue is not None:
            self._worker = threading.Thread(target=self._work, name="vsrup-encode", daemon=True)
            self._worker.start()

    def _setup(self, fps, container_metadata, copy_from, window) -> None:  # noqa: ANN001
        if container_metadata:
            for key, value in container_metadata.items():
                if key.lower() not in _METADATA_SKIP:
                    self.out.metadata[key] = value
        supported = self.out.supported_codecs
        probe_name = FORMAT_OF.get(self.encoder, self.encoder)
        if probe_name not in supported:
            raise UsageError(
                f"{probe_name} video cannot be stored in a {self.path.suffix} file",
                path=self.shown,
                hint="choose another --codec or output extension",
            )
        self.rate = fps.limit_denominator(1_000_000) if fps else None
        self.times = PacketTimes(self.time_base)  # the direct path or every stitched segment
        vs = self.out.add_stream(self.encoder, rate=self.rate)
        vs.width, vs.height, vs.pix_fmt = self.enc_w, self.enc_h, self.pix_fmt
        vs.time_base = self.time_base
        self._configure(vs.codec_context)
        src = self.source
        if src is not None:
            if src.rotation:
                vs.set_display_rotation(src.rotation)
            for key in ("language", "title", "handler_name"):
                if key in src.metadata:
                    vs.metadata[key] = src.metadata[key]
        self.stream = vs
        self.passthrough = (
            PassThrough(
                copy_from,
                self.out,
                audio=self.settings.audio,
                subtitles=self.settings.subtitles,
                window=window,
                offset_s=float(self.pts_offset * self.time_base),
                warn=self.warn,
            )
            if copy_from is not None
            else None
        )

    def _configure(self, cc) -> None:  # noqa: ANN001
        """Everything the encoder is told: shared by the output stream and `packet_encoder`,
        so segments encoded ahead of time are what this writer would have encoded."""
        cc.width, cc.height, cc.pix_fmt = self.enc_w, self.enc_h, self.pix_fmt
        cc.time_base = self.time_base
        if self.rate is not None:
            cc.framerate = self.rate
        cc.thread_count = self.settings.threads
        # Frame and slice threads, as the ffmpeg CLI asks for (PyAV's default is slices only,
        # which makes x264 split every frame: slower and a third larger at the same CRF).
        cc.thread_type = "AUTO"
        cc.options = dict(self._options)
        cc.colorspace = self.matrix
        cc.color_range = 2 if self.range == "JPEG" else 1
        src = self.source
        if src is not None:
            if src.color_primaries != 2:
                cc.color_primaries = src.color_primaries
            if src.color_trc != 2:
                cc.color_trc = src.color_trc
            if src.sar is not None:
                cc.sample_aspect_ratio = src.sar

    def packet_encoder(self):  # noqa: ANN201
        """A fresh encoder configured exactly like this writer's stream, not tied to its
        file: it starts with a keyframe (a closed GOP), and its packets can be muxed here
        later with `mux_packets` (the resume store's segments)."""
        import av

        cc = av.CodecContext.create(self.encoder, "w")
        self._configure(cc)
        # A segment stands alone: repeated timestamps are moved within it only, so its packets
        # do not depend on which segments this process encoded before (workers, resume).
        self._last_pts = None
        if self.out.format.flags & av.format.Flags.global_header.value:
            cc.flags |= av.codec.context.Flags.global_header
        return cc

    def video_frames(self, arrays: np.ndarray, pts: Sequence[int]) -> Iterator:
        """Quantised (T, H, W, 3) arrays, already `prepared`, → av.VideoFrames in the
        encoder's format and time base: the conversion every encoder of this writer gets."""
        import av

        fmt = "rgb48le" if self.deep else "rgb24"
        for array, p in zip(arrays, pts, strict=True):
            # No copy: the frame wraps the array's memory until swscale converts it.
            frame = av.VideoFrame.from_numpy_buffer(array, format=fmt)
            frame = frame.reformat(
                format=self.pix_fmt,
                dst_colorspace=sws_matrix(self.matrix),
                dst_color_range=self.range,
            )
            yield self.stamped(frame, p)

    def stamped(self, frame: Any, pts: int) -> Any:
        """`frame` with its timestamp in this writer's time base (repeats moved on)."""
        frame.pts = self._next_pts(int(pts) - self.pts_offset)
        frame.time_base = self.time_base
        return frame

    def mux_packets(self, packets: Iterable) -> None:
        """Stream-copy packets of a `packet_encoder` into the file, with the other tracks
        interleaved as `write` does."""
        last = None
        with self._errors_named():
            for packet in self.times.segment(packets):  # in the encoder's time base
                time_base = packet.time_base
                packet.stream = self.stream  # resets the packet's time base to the stream's
                packet.time_base = time_base  # the muxer rescales from the encoder's
                self.out.mux(packet)
                self.frames_written += 1
                if packet.pts is not None:
                    last = packet.pts if last is None else max(last, packet.pts)
        if self.passthrough is not None and last is not None:
            self.passthrough.pump(float((last + self.pts_offset) * self.time_base) + 0.5)

    # -- frames --------------------------------------------------------------------------------
    def write(self, frames: torch.Tensor, pts: Sequence[int]) -> None:
        """Encode frames with the given input pts (one per frame, increasing).

        With `background=True` the frames are quantised here and encoded by a worker thread
        while the caller computes the next batch; an encoder error surfaces at the next
        `write` or at `close`.
        """
        if frames.shape[0] != len(pts):
            raise ValueError(f"{frames.shape[0]} frames but {len(pts)} timestamps")
        if frames.shape[-2:] != (self.height, self.width):
            raise ValueError(f"frames are {tuple(frames.shape[-2:])}, writer expects "
                             f"{(self.height, self.width)}")  # fmt: skip
        self._submit(quantized_frames(frames, self.deep, self.enc_w, self.enc_h), pts)

    def write_array(self, arrays: np.ndarray, pts: Sequence[int]) -> None:
        """Encode already-quantised (T, H, W, 3) RGB frames at the writer's size (uint8, or
        uint16 at full scale for deeper output): no float round trip (the engine's way)."""
        self._submit(self.prepared(arrays, pts), pts)

    def prepared(self, arrays: np.ndarray, pts: Sequence[int]) -> np.ndarray:
        """Quantised frames checked against this writer and padded to the encoded size."""
        return padded_arrays(arrays, len(pts), self.width, self.height, self.deep,
                             (self.enc_w, self.enc_h))  # fmt: skip

    def _submit(self, arrays: np.ndarray, pts: Sequence[int]) -> None:
        """Encode now, or hand the batch to the background worker."""
        if self._queue is None:
            self._encode(arrays, list(pts))
            return
        self._raise_worker_error()
        while True:  # a bounded queue: at most two batches wait for the encoder
            try:
                self._queue.put((arrays, list(pts)), timeout=0.2)
                return
            except queue.Full:
                self._raise_worker_error()

    def _encode(self, arrays: np.ndarray, pts: list[int]) -> None:
        with self._errors_named():
            for frame in self.video_frames(arrays, pts):
                self._mux(frame)
        if self.passthrough is not None and pts:
            # Let the other tracks catch up to just past this batch (input seconds).
            self.passthrough.pump(float(int(pts[-1]) * self.time_base) + 0.5)

    def _mux(self, frame: Any) -> None:
        self.out.mux(self.times.checked(self.stream.encode(frame)))
        self.frames_written += 1

    def write_frame(self, frame: Any, pts: int) -> None:
        """Encode a PyAV `VideoFrame` that is already in the encoder's pixel format and size
        (`pix_fmt`, `enc_w` × `enc_h`, colour matrix `matrix`, range `range`): the direct
        resampling path hands over swscale's output without any other conversion."""
        if (frame.width, frame.height) != (self.enc_w, self.enc_h) or (
            frame.format.name != self.pix_fmt
        ):
            raise ValueError(f"frame is {frame.width}x{frame.height} {frame.format.name}, the "
                             f"encoder takes {self.enc_w}x{self.enc_h} {self.pix_fmt}")  # fmt: skip
        with self._errors_named():
            self._mux(self.stamped(frame, pts))
        if self.passthrough is not None:
            self.passthrough.pump(float(int(pts) * self.time_base) + 0.5)

    def _next_pts(self, pts: int) -> int:
        """`pts`, or one tick after the previous frame when it repeats (or goes back): files
        with duplicate timestamps exist, and MP4 refuses them. Every frame is kept."""
        if self._last_pts is not None and pts <= self._last_pts:
            pts = self._last_pts + 1
            self.moved += 1
        self._last_pts = pts
        return pts

    def _work(self) -> None:
        assert self._queue is not None
        while True:
            item = self._queue.get()
            if item is None or self._error is not None:
                return
            try:
                self._encode(*item)
            except BaseException as exc:  # handed to the caller's thread
                self._error = exc

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            raise self._error

    def _stop_worker(self) -> None:
        if self._worker is None or self._queue is None:
            return
        while self._worker.is_alive():
            try:
                self._queue.put(None, timeout=0.2)
                break
            except queue.Full:
                continue
        self._worker.join()
        self._worker = None

    @contextlib.contextmanager
    def _errors_named(self, abort: bool = False) -> Iterator[None]:
        """FFmpeg and file-system errors as one EncodeError line naming the output (after
        `abort()` when asked)."""
        import av

        try:
            yield
        except (av.error.FFmpegError, OSError, DecodeTimesError) as exc:
            if abort:
                self.abort()
            if isinstance(exc, (av.error.FFmpegError, DecodeTimesError)):
                raise self._encode_error(exc) from None
            raise EncodeError(f"writing failed: {exc.strerror or exc}", path=self.shown) from None

    def _encode_error(self, exc: Exception) -> EncodeError:
        reason = getattr(exc, "strerror", None) or str(exc)
        if "No space" in reason:
            reason = "no space left on the device"
        elif self.encoder.endswith("_nvenc"):
            reason = f"{self.encoder} could not start (needs an NVIDIA GPU and driver): {reason}"
        return EncodeError(f"encoding failed ({self.encoder}): {reason}", path=self.shown)

    def close(self) -> None:
        """Flush the encoder and the remaining tracks and finish the file."""
        self._stop_worker()
        if self._error is not None:
            self.abort()
            raise self._error
        if message := moved_message(self.label, self.moved, self.times, self.time_base):
            self.warn(message)
        with self._errors_named(abort=True):
            self.out.mux(self.times.checked(self.stream.encode(None)))
            if self.passthrough is not None:
                self.passthrough.finish()
            self.out.close()

    def abort(self) -> None:
        """Stop without finishing (the caller removes the temporary file)."""
        if self._worker is not None:
            self._error = self._error or EncodeError("aborted", path=self.shown)
            self._stop_worker()
        if self.passthrough is not None:
            with contextlib.suppress(Exception):  # after a failure: nothing more to report
                self.passthrough.close()
        with contextlib.suppress(Exception):
            self.out.close()
