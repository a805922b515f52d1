"""What is in a media file: container, streams, exact frame count, VFR, colour, rotation.

Headers lie (Matroska stores no frame count, some MP4 writers store a wrong one), so the
frame count and the variable-frame-rate verdict come from demuxing every video packet's
timestamp: no decoding, about as fast as reading the file. Only the first frame is decoded,
for the rotation that FFmpeg attaches to decoded frames.
"""

from __future__ import annotations

import errno
import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from vsrup.errors import InputError

# FFmpeg's names for the colour enums (libavutil/pixfmt.h), for `vsrup info` and the writer.
PRIMARIES = {1: "bt709", 2: "unknown", 4: "bt470m", 5: "bt470bg", 6: "smpte170m",
             7: "smpte240m", 8: "film", 9: "bt2020", 10: "smpte428", 11: "smpte431",
             12: "smpte432", 22: "ebu3213"}  # fmt: skip
TRANSFERS = {1: "bt709", 2: "unknown", 4: "gamma22", 5: "gamma28", 6: "smpte170m",
             7: "smpte240m", 8: "linear", 9: "log100", 10: "log316", 11: "iec61966-2-4",
             12: "bt1361e", 13: "iec61966-2-1", 14: "bt2020-10", 15: "bt2020-12",
             16: "smpte2084", 17: "smpte428", 18: "arib-std-b67"}  # fmt: skip
MATRICES = {0: "gbr", 1: "bt709", 2: "unknown", 4: "fcc", 5: "bt470bg", 6: "smpte170m",
            7: "smpte240m", 8: "ycgco", 9: "bt2020nc", 10: "bt2020c", 14: "ictcp"}  # fmt: skip
RANGES = {0: "unknown", 1: "tv", 2: "pc"}
#: Transfer characteristics of HDR video: PQ (HDR10, Dolby Vision base) and HLG.
HDR_TRANSFERS = {16: "pq", 18: "hlg"}


@dataclass
class VideoInfo:
    index: int
    codec: str
    profile: str | None
    pix_fmt: str
    bit_depth: int
    width: int
    height: int
    #: Sample (pixel) aspect ratio; None when the file does not say (square pixels).
    sar: Fraction | None
    #: Display aspect ratio: width*sar / height.
    dar: Fraction
    #: Average frame rate (frames / duration); the nominal rate for CFR files.
    fps: Fraction | None
    time_base: Fraction
    #: Exact count from demuxing (None only when `probe(exact=False)`).
    frames: int | None
    #: What the header claims (0 or None when it does not say).
    frames_header: int | None
    start_pts: int | None
    duration_s: float | None
    vfr: bool
    #: Frames the header promises beyond those present (a truncated file), else 0.
    missing_frames: int
    color_primaries: int
    color_trc: int
    colorspace: int
    color_range: int
    #: Counter-clockwise degrees from the display matrix (0 when none).
    rotation: int
    language: str | None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def rate(self) -> Fraction:
        """The frame rate to write a copy at: `fps`, or 25 (FFmpeg's default) when unstated."""
        return self.fps or Fraction(25)

    @property
    def hdr(self) -> str | None:
        """'pq' or 'hlg' for HDR transfer characteristics, else None."""
        return HDR_TRANSFERS.get(self.color_trc)

    def colour_names(self) -> dict[str, str]:
        return {
            "primaries": PRIMARIES.get(self.color_primaries, str(self.color_primaries)),
            "transfer": TRANSFERS.get(self.color_trc, str(self.color_trc)),
            "matrix": MATRICES.get(self.colorspace, str(self.colorspace)),
            "range": RANGES.get(self.color_range, str(self.color_range)),
        }


@dataclass
class StreamInfo:
    """An audio, subtitle, attachment or data stream."""

    index: int
    type: str
    codec: str
    language: str | None
    title: str | None
    channels: int | None = None
    layout: str | None = None
    sample_rate: int | None = None
    bit_rate: int | None = None
    duration_s: float | None = None
    filename: str | None = None
    default: bool = False


@dataclass
class MediaInfo:
    path: Path
    container: str
    duration_s: float | None
    bit_rate: int | None
    size_bytes: int
    metadata: dict[str, str]
    video: VideoInfo | None
    streams: list[StreamInfo]

    @property
    def audio(self) -> list[StreamInfo]:
        return [s for s in self.streams if s.type == "audio"]

    @property
    def subtitles(self) -> list[StreamInfo]:
        return [s for s in self.streams if s.type == "subtitle"]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly: fractions as strings, paths as text, colour enums as names."""

        def conv(value: Any) -> Any:
            if isinstance(value, Fraction):
                return f"{value.numerator}/{value.denominator}"
            if isinstance(value, Path):
                return str(value)
            if isinstance(value, dict):
                return {k: conv(v) for k, v in value.items()}
            if isinstance(value, list):
                return [conv(v) for v in value]
            return value

        data = conv(asdict(self))
        if self.video is not None:
            data["video"]["colour"] = self.video.colour_names()
            data["video"]["hdr"] = self.video.hdr
        return data


def check_input(path: str | Path) -> Path:
    """Fail clearly for a missing path, a directory or an unreadable file."""
    p = Path(path)
    if not p.exists():
        raise InputError("no such file", path=p)
    if p.is_dir():
        raise InputError("is a directory, not a video file", path=p)
    if not os.access(p, os.R_OK):
        raise InputError("permission denied", path=p)
    if p.stat().st_size == 0:
        raise InputError("empty file, not a video", path=p)
    return p


def open_input(path: str | Path):  # noqa: ANN201 - av.container.InputContainer
    """`av.open` for reading, with FFmpeg's failures turned into one clear InputError."""
    import av

    p = check_input(path)
    try:
        return av.open(str(p), "r")
    except av.error.InvalidDataError:
        raise InputError("not a video file, or the file is corrupt", path=p) from None
    except av.error.FFmpegError as exc:
        if getattr(exc, "errno", None) == errno.ENOENT:
            raise InputError("no such file", path=p) from None
        raise InputError(f"cannot open: {exc.strerror or exc}", path=p) from None


def _lang(stream) -> str | None:  # noqa: ANN001
    lang = stream.metadata.get("language")
    return None if lang in (None, "", "und") else lang


def _seconds(value: int | None, time_base: Fraction | None) -> float | None:
    if value is None or time_base is None:
        return None
    return float(value * time_base)


def scan_video_packets(container, stream) -> list[int]:  # noqa: ANN001
    """Every video packet's pts, in decode order, without decoding: the exact frame count.

    Packets without a pts (rare raw streams) are given their dts. Empty flush packets are
    skipped. Demux errors at the tail (a truncated file) stop the scan; the reader reports
    them when it decodes.
    """
    import av

    pts: list[int] = []
    try:
        for packet in container.demux(stream):
            if packet.size == 0:
                continue
            value = packet.pts if packet.pts is not None else packet.dts
            pts.append(value if value is not None else (pts[-1] + 1 if pts else 0))
    except av.error.FFmpegError:
        pass
    return pts


def is_vfr(pts: list[int], time_base: Fraction) -> bool:
    """True when frame intervals differ by more than timestamp rounding explains.

    Muxers round CFR timestamps to their clock (24 fps in milliseconds is 41/42 ms), so the
    intervals may spread by a tick or by 1.5 ms, whichever is larger, and still be CFR.
    """
    if len(pts) < 3:
        return False
    ordered = sorted(pts)
    gaps = [b - a for a, b in zip(ordered, ordered[1:], strict=False)]
    spread = max(gaps) - min(gaps)
    return spread > 1 and float(spread * time_base) > 0.0015


def probe(path: str | Path, exact: bool = True) -> MediaInfo:
    """Describe `path`. With `exact`, count frames and detect VFR by demuxing every packet."""
    import av

    p = check_input(path)
    with open_input(p) as container:
        streams: list[StreamInfo] = []
        video: VideoInfo | None = None
        for s in container.streams:
            if s.type == "video" and video is None and not _is_cover_art(s):
                video = _video_info(container, s, exact)
                continue
            streams.append(_stream_info(s))
        if video is None:
            raise InputError("no video stream in the file", path=p)
        duration = container.duration / av.time_base if container.duration else None
        return MediaInfo(
            path=p,
            container=container.format.name,
            duration_s=duration,
            bit_rate=container.bit_rate or None,
            size_bytes=p.stat().st_size,
            metadata=dict(container.metadata),
            video=video,
            streams=streams,
        )


def probe_video(path: str | Path, exact: bool = False) -> VideoInfo:
    """The first video stream of `path`: header facts only unless `exact` (no demux pass).

    For tools that need the size and rate (metrics, compare, degrade, bench), not the exact
    count; `frames_header` is the count the header states. InputError as for `probe`.
    """
    video = probe(path, exact=exact).video
    assert video is not None  # probe raises InputError when there is no video stream
    return video


def _is_cover_art(stream) -> bool:  # noqa: ANN001
    try:
        return bool(stream.disposition & 0x400)  # AV_DISPOSITION_ATTACHED_PIC
    except TypeError:
        return False


def _video_info(container, s, exact: bool) -> VideoInfo:  # noqa: ANN001
    import av

    cc = s.codec_context
    if cc is None or not cc.width or not cc.height:  # e.g. a file cut off inside its header
        raise InputError("the video stream has no usable picture size (truncated or damaged "
                         "header?)", path=container.name)  # fmt: skip
    fmt = av.VideoFormat(cc.pix_fmt) if cc.pix_fmt else None
    depth = max((c.bits for c in fmt.components), default=8) if fmt else 8
    sar = s.sample_aspect_ratio or cc.sample_aspect_ratio
    sar = Fraction(sar) if sar and sar.numerator else None
    dar = Fraction(cc.width * (sar or 1), cc.height) if cc.height else Fraction(0)
    # Count on this fresh container (a seek back could skip leading packets), then decode
    # the first frame from a second one.
    pts = scan_video_packets(container, s) if exact else []
    with open_input(container.name) as again:
        rotation, frame_colour = _first_frame_facts(again, again.streams[s.index])
    tb = Fraction(s.time_base) if s.time_base else Fraction(1, 1000)
    fps = s.average_rate or s.guessed_rate
    if pts and len(pts) > 1 and (not fps or s.average_rate is None):
        span = max(pts) - min(pts)
        fps = Fraction(len(pts) - 1) / (span * tb) if span else fps
    duration = _seconds(s.duration, tb) or _tag_seconds(s.metadata.get("DURATION"))
    header_frames = s.frames or 0
    if duration is None and container.duration:
        duration = container.duration / av.time_base
    if pts and len(pts) > 2 and is_vfr(pts, tb):
        fps = Fraction(len(pts) - 1) / ((max(pts) - min(pts)) * tb)
    missing = _missing_frames(pts, tb, header_frames, s, fps) if exact else 0
    colour = {
        "color_primaries": cc.color_primaries,
        "color_trc": cc.color_trc,
        "colorspace": cc.colorspace,
        "color_range": cc.color_range,
    }
    for key, value in frame_colour.items():  # the decoder knows better than the header
        if value not in (None, 2) and colour[key] in (None, 2, 0):
            colour[key] = value
    return VideoInfo(
        index=s.index,
        codec=cc.name,
        profile=s.profile,
        pix_fmt=cc.pix_fmt or "unknown",
        bit_depth=depth,
        width=cc.width,
        height=cc.height,
        sar=sar,
        dar=dar,
        fps=Fraction(fps) if fps else None,
        time_base=tb,
        frames=len(pts) if exact else None,
        frames_header=s.frames or None,
        start_pts=min(pts) if pts else s.start_time,
        duration_s=duration,
        vfr=is_vfr(pts, tb),
        missing_frames=missing,
        color_primaries=int(colour["color_primaries"] or 2),
        color_trc=int(colour["color_trc"] or 2),
        colorspace=int(colour["colorspace"] if colour["colorspace"] is not None else 2),
        color_range=int(colour["color_range"] or 0),
        rotation=rotation,
        language=_lang(s),
        metadata=dict(s.metadata),
    )


def _tag_seconds(value: str | None) -> float | None:
    """Matroska's per-stream DURATION tag, 'HH:MM:SS.nnnnnnnnn'."""
    if not value:
        return None
    try:
        h, m, sec = value.split(":")
        return int(h) * 3600 + int(m) * 60 + float(sec)
    except ValueError:
        return None


def _missing_frames(pts: list[int], tb: Fraction, header_frames: int, s, fps) -> int:  # noqa: ANN001
    """How many frames the header promises that the file does not hold (truncation).

    Uses the header frame count (MP4) or the stream's own duration (MP4/TS/Matroska's
    DURATION tag), never the container duration, which includes longer audio.
    """
    if header_frames and header_frames > len(pts):
        return header_frames - len(pts)
    duration = _seconds(s.duration, tb) or _tag_seconds(s.metadata.get("DURATION"))
    if not duration or not pts or not fps:
        return 0
    start = float(min(pts) * tb) if s.start_time is None else float(s.start_time * tb)
    covered = float((max(pts) - min(pts)) * tb) + 1 / float(fps)
    gap = (start + duration) - (float(min(pts) * tb) + covered)
    # More than two frames short of the declared end: frames are missing.
    return int(round(gap * float(fps))) if gap * float(fps) > 2 else 0


def _first_frame_facts(container, s) -> tuple[int, dict[str, int | None]]:  # noqa: ANN001
    """Rotation and colour tags from the first decodable frame (0 and {} if none decodes)."""
    import av

    try:
        for frame in container.decode(s):
            colour = {
                "color_primaries": frame.color_primaries,
                "color_trc": frame.color_trc,
                "colorspace": frame.colorspace,
                "color_range": frame.color_range,
            }
            return int(round(frame.rotation or 0)), colour
    except av.error.FFmpegError:
        pass
    return 0, {}


def _stream_info(s) -> StreamInfo:  # noqa: ANN001
    cc = s.codec_context
    info = StreamInfo(
        index=s.index,
        type=s.type,
        codec=cc.name if cc is not None else "unknown",
        language=_lang(s),
        title=s.metadata.get("title"),
        bit_rate=(cc.bit_rate or None) if cc is not None else None,
        duration_s=_seconds(s.duration, Fraction(s.time_base) if s.time_base else None),
        default=bool(int(s.disposition) & 1),
    )
    if s.type == "audio":
        info.channels = cc.channels
        info.layout = cc.layout.name
        info.sample_rate = cc.sample_rate
    elif s.type == "attachment":
        info.filename = s.metadata.get("filename")
    return info
