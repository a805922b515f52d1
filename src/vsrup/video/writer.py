"""Encode (T, C, H, W) float frames with PyAV, keeping every frame's input timestamp.

The writer owns the output container: the video stream (codec, CRF, preset, pixel format),
the colour tags, SAR, rotation and container metadata copied from the source, and a
`PassThrough` that interleaves the source's audio/subtitle tracks. Frames are given with
their input pts in the input stream's time base and are encoded with exactly those pts, so
VFR stays VFR and no frame is duplicated or dropped.

Odd sizes: encoders of chroma-subsampled formats (4:2:0, 4:2:2) need even dimensions, so
frames are padded on the right/bottom by repeating the last column/row up to the next even
size (at most one pixel each way) and a warning says so; 4:4:4, RGB and FFV1 take odd sizes.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vsrup.errors import EncodeError, UsageError
from vsrup.video.probe import VideoInfo
from vsrup.video.reader import assumed_matrix, sws_matrix
from vsrup.video.remux import PassThrough
from vsrup.video.x264_cpu import reproducible_x264_params

if TYPE_CHECKING:  # only the float `write` needs torch; encoding integers does not
    import torch

#: User-facing codec names → FFmpeg encoders.
CODECS = {
    "h264": "libx264",
    "hevc": "libx265",
    "h265": "libx265",
    "av1": "libsvtav1",
    "vp9": "libvpx-vp9",
    "ffv1": "ffv1",
    "prores": "prores_ks",
    "h264_nvenc": "h264_nvenc",
    "hevc_nvenc": "hevc_nvenc",
    "av1_nvenc": "av1_nvenc",
}
CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mkv": "matroska", ".mov": "mov", ".webm": "webm"}
#: Codec chosen when the user gives none, per container.
DEFAULT_CODEC = {"webm": "vp9"}
#: Codecs tried, in order, when the default one cannot keep a 10-bit source at 10 bits.
DEEP_FALLBACK = {"webm": ("av1",), "mp4": ("hevc", "av1"), "mov": ("hevc", "prores"),
                 "matroska": ("hevc", "av1", "ffv1")}  # fmt: skip
#: The CRF (or CQ) range each encoder accepts.
CRF_RANGE = {"libx264": 51, "libx265": 51, "libsvtav1": 63, "libvpx-vp9": 63,
             "h264_nvenc": 51, "hevc_nvenc": 51, "av1_nvenc": 51}  # fmt: skip
_DEFAULT_CRF = {"libx264": 18, "libx265": 20, "libsvtav1": 28, "libvpx-vp9": 28}
_DEFAULT_PRESET = {"libx264": "medium", "libx265": "medium", "libsvtav1": "8"}
_X26X_PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                 "slower", "veryslow", "placebo")  # fmt: skip
#: The --preset values each encoder takes (checked up front: a bad one makes x264 print
#: straight to stderr and fail with a bare "Invalid argument").
PRESETS = {
    "libx264": _X26X_PRESETS,
    "libx265": _X26X_PRESETS,
    "libsvtav1": tuple(str(n) for n in range(14)),
    "libvpx-vp9": tuple(str(n) for n in range(-8, 9)),
    **{f"{c}_nvenc": tuple(f"p{n}" for n in range(1, 8)) for c in ("h264", "hevc", "av1")},
}
#: Encoder name → the codec (format) name that containers list as supported.
_FORMAT_OF = {"libx264": "h264", "libx265": "hevc", "libsvtav1": "av1", "libvpx-vp9": "vp9",
              "prores_ks": "prores", "h264_nvenc": "h264", "hevc_nvenc": "hevc",
              "av1_nvenc": "av1"}  # fmt: skip
_METADATA_SKIP = {"major_brand", "minor_version", "compatible_brands", "encoder", "duration"}


@dataclass
class EncodeSettings:
    """What the user chose; None means "follow the input / the codec's default"."""

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    audio: bool = True
    subtitles: bool = True
    threads: int = 0


def container_format(path: Path) -> str:
    fmt = CONTAINERS.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(sorted(CONTAINERS))
        raise UsageError(f"unsupported output extension {path.suffix!r}", path=path,
                         hint=f"use one of {known}")  # fmt: skip
    return fmt


def _formats(encoder: str) -> list[str]:
    import av

    return [f.name for f in av.codec.Codec(encoder, "w").video_formats or []]


def _has_deep_format(encoder: str) -> bool:
    return any(_bits(name) > 8 for name in _formats(encoder))


def _bits(pix_fmt: str) -> int:
    """Bits per sample of a pixel format name (8 unless it names 9-16)."""
    for bits in (16, 14, 12, 10, 9):
        if f"p{bits}" in pix_fmt or f"{bits}le" in pix_fmt or f"{bits}be" in pix_fmt:
            return bits
    return 8


def resolve_encoder(
    codec: str | None, fmt: str, deep: bool = False, warn: Callable[[str], None] | None = None
) -> str:
    """The FFmpeg encoder for `--codec` (or the container's default). A deep (10-bit) source
    whose default codec cannot keep its depth gets the next default that can (WebM: AV1 when
    this libvpx has no 10-bit support), with a warning saying so."""
    name = codec or DEFAULT_CODEC.get(fmt, "h264")
    encoder = CODECS.get(name, name)
    import av

    try:
        av.codec.Codec(encoder, "w")
    except (av.codec.codec.UnknownCodecError, ValueError):
        known = ", ".join(CODECS)
        raise UsageError(
            f"unknown or unavailable codec {name!r}", hint=f"use one of {known}"
        ) from None
    if codec is None and deep and not _has_deep_format(encoder):
        for fallback in DEEP_FALLBACK.get(fmt, ()):
            with contextlib.suppress(av.codec.codec.UnknownCodecError, ValueError):
                if _has_deep_format(CODECS[fallback]):
                    if warn is not None:
                        warn(
                            f"{encoder} in this FFmpeg build cannot encode 10-bit; using "
                            f"{fallback} to keep the input's bit depth (choose with --codec)"
                        )
                    encoder = CODECS[fallback]
                    break
    if encoder == "libsvtav1":
        os.environ.setdefault("SVT_LOG", "1")  # errors only: no banner on stderr
    return encoder


def check_pix_fmt(encoder: str, requested: str) -> None:
    """`--pix-fmt` must be a colour format without alpha that the encoder takes."""
    import av

    try:
        fmt = av.VideoFormat(requested)
    except ValueError:
        raise UsageError(f"unknown --pix-fmt {requested!r}",
                         hint="e.g. yuv420p, yuv420p10le, yuv444p") from None  # fmt: skip
    formats = _formats(encoder)
    if len(fmt.components) != 3 or fmt.has_palette:
        colour = [f for f in formats if _is_colour(f)]
        raise UsageError(
            f"--pix-fmt {requested}: vsrup writes colour video without alpha",
            hint="choose one of: " + ", ".join(colour),
        )
    if formats and requested not in formats:
        colour = [f for f in formats if _is_colour(f)]
        raise UsageError(f"{encoder} cannot encode pix_fmt {requested!r}",
                         hint="choose one of: " + ", ".join(colour))  # fmt: skip


def _is_colour(name: str) -> bool:
    import av

    fmt = av.VideoFormat(name)
    return len(fmt.components) == 3 and not fmt.has_palette


def choose_pix_fmt(encoder: str, source: VideoInfo | None, requested: str | None) -> str:
    """Keep the source's bit depth and chroma layout where the encoder allows it; refuse a
    deep source the encoder cannot keep deep (never a silent drop to 8 bits)."""
    formats = _formats(encoder)
    if requested:
        check_pix_fmt(encoder, requested)
        return requested
    deep = source is not None and source.bit_depth > 8
    chroma = "420"
    if source is not None:
        for layout in ("444", "422"):
            if layout in source.pix_fmt:
                chroma = layout
    if encoder.startswith("prores"):
        chroma = "444" if chroma == "444" else "422"
    candidates = []
    if deep:
        candidates += [f"yuv{chroma}p10le", "yuv420p10le", "p010le", "yuv422p10le"]
        if formats and not any(name in formats for name in candidates):
            raise UsageError(
                f"{encoder} in this FFmpeg build cannot encode the input's "
                f"{source.bit_depth}-bit video",
                hint="choose --codec hevc, av1, ffv1 or prores to keep it, or --pix-fmt "
                "yuv420p to accept 8 bits",
            )
    candidates += [f"yuv{chroma}p", "yuv420p", "nv12"]
    for name in candidates:
        if not formats or name in formats:
            return name
    return formats[0]


def needs_even(pix_fmt: str) -> tuple[bool, bool]:
    """Whether width and height must be even: chroma planes of half width/height."""
    import av

    fmt = av.VideoFormat(pix_fmt)
    if fmt.is_rgb or len(fmt.components) < 3:
        return False, False
    return fmt.chroma_width(3) != 3, fmt.chroma_height(3) != 3


def encoder_options(encoder: str, settings: EncodeSettings) -> dict:
    """The encoder's options for the user's --crf/--preset; values it does not take are
    usage errors (never silently clamped or ignored)."""
    opts: dict[str, str] = {}
    if settings.preset is not None and settings.preset not in PRESETS.get(encoder, ()):
        if encoder not in PRESETS:
            raise UsageError(f"--preset: {encoder} has no presets")
        raise UsageError(f"unknown --preset {settings.preset!r} for {encoder}",
                         hint="use one of: " + ", ".join(PRESETS[encoder]))  # fmt: skip
    top = CRF_RANGE.get(encoder)
    if settings.crf is not None and top is None:
        raise UsageError(f"--crf: {encoder} has no CRF setting (it is lossless or fixed-quality)")
    if settings.crf is not None and top is not None and not 0 <= settings.crf <= top:
        raise UsageError(f"--crf {settings.crf} is out of range for {encoder}",
                         hint=f"use 0-{top} (lower is better)")  # fmt: skip
    crf = settings.crf if settings.crf is not None else _DEFAULT_CRF.get(encoder)
    preset = settings.preset or _DEFAULT_PRESET.get(encoder)
    if encoder in ("libx264", "libx265", "libsvtav1"):
        opts["crf"] = str(crf)
        if preset:
            opts["preset"] = preset
        if encoder == "libx265":
            opts["x265-params"] = "log-level=error"
        if encoder == "libx264" and (params := reproducible_x264_params()):
            opts["x264-params"] = params  # the same frames give the same bytes
    elif encoder == "libvpx-vp9":
        opts.update({"crf": str(crf), "b": "0", "row-mt": "1"})
        opts["cpu-used"] = settings.preset or "4"
    elif encoder.endswith("_nvenc"):
        opts["rc"] = "vbr"
        opts["cq"] = str(settings.crf if settings.crf is not None else 21)
        opts["preset"] = settings.preset or "p5"
    else:
        if encoder.startswith("prores"):
            opts["profile"] = "3"  # HQ
    return opts


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
            self.warn(
                f"{self.label}: {width}x{height} cannot be stored in {self.pix_fmt}; padded "
                f"to {self.enc_w}x{self.enc_h} by repeating the edge (use --pix-fmt yuv444p "
                "for the exact size)"
            )
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
        probe_name = _FORMAT_OF.get(self.encoder, self.encoder)
        if probe_name not in supported:
            raise UsageError(
                f"{probe_name} video cannot be stored in a {self.path.suffix} file",
                path=self.shown,
                hint="choose another --codec or output extension",
            )
        self.rate = fps.limit_denominator(1_000_000) if fps else None
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
        import av

        last = None
        try:
            for packet in packets:
                time_base = packet.time_base
                packet.stream = self.stream  # resets the packet's time base to the stream's
                packet.time_base = time_base  # the muxer rescales from the encoder's
                self.out.mux(packet)
                self.frames_written += 1
                if packet.pts is not None:
                    last = packet.pts if last is None else max(last, packet.pts)
        except av.error.FFmpegError as exc:
            raise self._encode_error(exc) from None
        except OSError as exc:
            raise EncodeError(f"writing failed: {exc.strerror or exc}", path=self.shown) from None
        if self.passthrough is not None and last is not None:
            self.passthrough.pump(float((last + self.pts_offset) * self.time_base) + 0.5)

    # -- frames --------------------------------------------------------------------------------
    def _to_array(self, frames: torch.Tensor) -> np.ndarray:
        """(T, C, H, W) float → contiguous (T, H, W, 3) uint8/uint16, padded to the encoded
        size: one float pass (scale, round, clamp) and one integer copy into HWC order."""
        import torch

        peak = 65535.0 if self.deep else 255.0
        x = frames.detach().to("cpu", torch.float32)
        q = (x * peak).add_(0.5).clamp_(0, peak)
        pad_w, pad_h = self.enc_w - self.width, self.enc_h - self.height
        if pad_w or pad_h:
            q = torch.nn.functional.pad(q, (0, pad_w, 0, pad_h), mode="replicate")
        t, _, h, w = q.shape
        hwc = torch.empty((t, h, w, 3), dtype=torch.int32 if self.deep else torch.uint8)
        hwc.copy_(q.permute(0, 2, 3, 1))  # float → int truncates: rounding was the +0.5
        if self.deep:
            return hwc.numpy().astype(np.uint16)
        return hwc.numpy()

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
        arrays = self._to_array(frames)
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

    def write_array(self, arrays: np.ndarray, pts: Sequence[int]) -> None:
        """Encode already-quantised frames: (T, H, W, 3) RGB, uint8 for 8-bit output and
        uint16 (full 16-bit scale) for deeper output, at the writer's width and height.
        Skips the float round trip when the caller quantised already (the engine does)."""
        arrays = self.prepared(arrays, pts)
        if self._queue is None:
            self._encode(arrays, list(pts))
            return
        self._raise_worker_error()
        while True:
            try:
                self._queue.put((arrays, list(pts)), timeout=0.2)
                return
            except queue.Full:
                self._raise_worker_error()

    def prepared(self, arrays: np.ndarray, pts: Sequence[int]) -> np.ndarray:
        """Quantised frames checked against this writer and padded to the encoded size."""
        want = np.uint16 if self.deep else np.uint8
        if arrays.ndim != 4 or arrays.shape[1:] != (self.height, self.width, 3):
            raise ValueError(f"arrays are {arrays.shape}, writer expects (T, {self.height}, "
                             f"{self.width}, 3)")  # fmt: skip
        if arrays.shape[0] != len(pts):
            raise ValueError(f"{arrays.shape[0]} frames but {len(pts)} timestamps")
        if arrays.dtype != want:
            raise ValueError(f"arrays are {arrays.dtype}, this writer needs {np.dtype(want)}")
        pad_w, pad_h = self.enc_w - self.width, self.enc_h - self.height
        if pad_w or pad_h:
            arrays = np.pad(arrays, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        arrays = np.ascontiguousarray(arrays)
        return arrays

    def _encode(self, arrays: np.ndarray, pts: list[int]) -> None:
        import av

        try:
            for frame in self.video_frames(arrays, pts):
                self._mux(frame)
        except av.error.FFmpegError as exc:
            raise self._encode_error(exc) from None
        except OSError as exc:
            raise EncodeError(f"writing failed: {exc.strerror or exc}", path=self.shown) from None
        if self.passthrough is not None and pts:
            # Let the other tracks catch up to just past this batch (input seconds).
            self.passthrough.pump(float(int(pts[-1]) * self.time_base) + 0.5)

    def _mux(self, frame: Any) -> None:
        self.out.mux(self.stream.encode(frame))
        self.frames_written += 1

    def write_frame(self, frame: Any, pts: int) -> None:
        """Encode a PyAV `VideoFrame` that is already in the encoder's pixel format and size
        (`pix_fmt`, `enc_w` × `enc_h`, colour matrix `matrix`, range `range`): the direct
        resampling path hands over swscale's output without any other conversion."""
        import av

        if (frame.width, frame.height) != (self.enc_w, self.enc_h) or (
            frame.format.name != self.pix_fmt
        ):
            raise ValueError(f"frame is {frame.width}x{frame.height} {frame.format.name}, the "
                             f"encoder takes {self.enc_w}x{self.enc_h} {self.pix_fmt}")  # fmt: skip
        try:
            self._mux(self.stamped(frame, pts))
        except av.error.FFmpegError as exc:
            raise self._encode_error(exc) from None
        except OSError as exc:
            raise EncodeError(f"writing failed: {exc.strerror or exc}", path=self.shown) from None
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

    def _encode_error(self, exc: Exception) -> EncodeError:
        reason = getattr(exc, "strerror", None) or str(exc)
        if "No space" in reason:
            reason = "no space left on the device"
        elif self.encoder.endswith("_nvenc"):
            reason = f"{self.encoder} could not start (needs an NVIDIA GPU and driver): {reason}"
        return EncodeError(f"encoding failed ({self.encoder}): {reason}", path=self.shown)

    def close(self) -> None:
        """Flush the encoder and the remaining tracks and finish the file."""
        import av

        self._stop_worker()
        if self._error is not None:
            self.abort()
            raise self._error
        if self.moved:
            self.warn(
                f"{self.label}: {self.moved} frame(s) repeated the previous frame's timestamp; "
                f"each was moved one tick ({float(self.time_base):.6g} s) later so that no "
                "frame is lost"
            )
        try:
            self.out.mux(self.stream.encode(None))
            if self.passthrough is not None:
                self.passthrough.finish()
            self.out.close()
        except av.error.FFmpegError as exc:
            self.abort()
            raise self._encode_error(exc) from None
        except OSError as exc:
            self.abort()
            raise EncodeError(f"writing failed: {exc.strerror or exc}", path=self.shown) from None

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
