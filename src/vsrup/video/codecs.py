"""An output's encoder and its settings: what --codec, --crf, --preset and --pix-fmt mean
for each FFmpeg encoder, the container's default codec, the pixel format that keeps the
source's bit depth and chroma layout, and the encoder options. Every value an encoder does
not take is a usage error, raised before the output is opened."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vsrup.errors import UsageError
from vsrup.video.probe import VideoInfo
from vsrup.video.x264_cpu import reproducible_x264_params

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
FORMAT_OF = {"libx264": "h264", "libx265": "hevc", "libsvtav1": "av1", "libvpx-vp9": "vp9",
              "prores_ks": "prores", "h264_nvenc": "h264", "hevc_nvenc": "hevc",
              "av1_nvenc": "av1"}  # fmt: skip


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
