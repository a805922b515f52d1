"""Generate short test and demo clips with PyAV: no binary fixtures, no network.

A clip is a slow pan across a real photograph (scikit-image's sample data when installed,
otherwise a procedural pattern), so upscalers have edges and texture to work on and motion
to track. Options cover what the I/O tests need: odd sizes, variable frame rate with
irregular timestamps, 10-bit HEVC, one or more AAC/Opus audio tracks with language tags, a
subtitle track in the container's native text codec, rotation and colour tags.

    from vsrup.video.synth import make_clip
    make_clip("sample.mp4", width=320, height=180, frames=48, audio_tracks=1)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

#: Subtitle codec per container: what each one stores natively.
SUBTITLE_CODECS = {".mp4": "mov_text", ".mov": "mov_text", ".mkv": "subrip", ".webm": "webvtt"}
#: Audio codec per container when the caller does not choose one.
AUDIO_CODECS = {".webm": "libopus"}


def source_image(height: int = 512, width: int = 512) -> np.ndarray:
    """An RGB uint8 picture at least (height, width): a photo if possible, else a pattern."""
    try:
        from skimage import data  # optional: only for nicer demo content

        img = np.ascontiguousarray(data.astronaut())
    except Exception:  # any import or data problem: fall back to the pattern
        img = _pattern(512, 512)
    if img.shape[0] < height or img.shape[1] < width:
        import cv2

        k = max(height / img.shape[0], width / img.shape[1])
        size = (math.ceil(img.shape[1] * k), math.ceil(img.shape[0] * k))
        img = cv2.resize(img, size, interpolation=cv2.INTER_CUBIC)
    return img


def _pattern(height: int, width: int) -> np.ndarray:
    """Rings, a colour ramp and a checkerboard: detail at many frequencies."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    r = np.hypot(x - width / 2, y - height / 2)
    rings = 0.5 + 0.5 * np.sin(r * r / (width * 2.0))
    checks = ((x // 16 + y // 16) % 2).astype(np.float32)
    img = np.stack([rings, x / width, 0.6 * checks + 0.4 * (y / height)], axis=-1)
    return (img * 255).round().astype(np.uint8)


def frame_times(frames: int, fps: Fraction, vfr: bool, time_base: Fraction) -> list[int]:
    """Presentation timestamps in `time_base` units; irregular gaps when `vfr`."""
    step = 1 / (fps * time_base)  # ticks per frame
    if not vfr:
        return [round(i * step) for i in range(frames)]
    # A repeating pattern of short and long gaps, like a phone that drops to 20 fps in the dark.
    factors = (1.0, 1.0, 2.5, 0.5, 1.5, 1.0, 3.0)
    pts, t = [], 0.0
    for i in range(frames):
        pts.append(round(t))
        t += float(step) * factors[i % len(factors)]
    return pts


def make_frames(width: int, height: int, frames: int, seed: int = 0) -> np.ndarray:
    """(T, H, W, 3) uint8: a window panning diagonally across the source picture."""
    src = source_image(height * 2, width * 2)
    rng = np.random.default_rng(seed)
    max_y, max_x = src.shape[0] - height, src.shape[1] - width
    y0, x0 = rng.integers(0, max(max_y // 4, 1)), rng.integers(0, max(max_x // 4, 1))
    out = np.empty((frames, height, width, 3), np.uint8)
    for i in range(frames):
        dy = min(y0 + 2 * i, max_y)
        dx = min(x0 + 3 * i, max_x)
        out[i] = src[dy : dy + height, dx : dx + width]
    return out


def make_clip(
    path: str | Path,
    *,
    width: int = 64,
    height: int = 48,
    frames: int = 12,
    fps: Fraction | int | float = 24,
    codec: str = "libx264",
    pix_fmt: str | None = None,
    vfr: bool = False,
    audio_tracks: int = 0,
    audio_codec: str | None = None,
    audio_languages: Sequence[str] = ("eng", "fra", "deu"),
    subtitles: bool = False,
    subtitle_language: str = "eng",
    rotation: int = 0,
    color_trc: int | None = None,
    color_primaries: int | None = None,
    colorspace: int | None = None,
    metadata: dict[str, str] | None = None,
    seed: int = 0,
) -> Path:
    """Write a clip and return its path. The container comes from the extension.

    Audio is a quiet sine per track (a different pitch each) lasting as long as the video.
    `pix_fmt` defaults to the codec's usual one (yuv420p; yuv420p10le for 10-bit requests
    come from the caller). Frames have exact pts: `frame_times(...)` in 1/timescale units.
    """
    import av

    path = Path(path)
    fps = Fraction(fps).limit_denominator(1001)
    ext = path.suffix.lower()
    # A fine time base makes irregular gaps representable; CFR uses 1/fps like most encoders.
    time_base = Fraction(1, 1000) if vfr else 1 / fps
    pts = frame_times(frames, fps, vfr, time_base)
    duration_s = float((pts[-1] + (1 / fps) / time_base) * time_base) if frames else 0.0
    pixels = make_frames(width, height, frames, seed)
    deep = pix_fmt is not None and ("10" in pix_fmt or "12" in pix_fmt or "16" in pix_fmt)

    with av.open(str(path), "w") as out:
        if metadata:
            out.metadata.update(metadata)
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height = width, height
        vs.pix_fmt = pix_fmt or ("yuv422p10le" if codec.startswith("prores") else "yuv420p")
        vs.time_base = time_base
        vs.codec_context.time_base = time_base
        if codec in ("libx264", "libx265"):
            vs.codec_context.options = {"preset": "ultrafast", "crf": "18"}
            if codec == "libx265":
                vs.codec_context.options["x265-params"] = "log-level=error"
        for attr, value in (
            ("color_trc", color_trc),
            ("color_primaries", color_primaries),
            ("colorspace", colorspace),
        ):
            if value is not None:
                setattr(vs.codec_context, attr, value)
        if rotation:
            vs.set_display_rotation(rotation)

        audio = []
        for k in range(audio_tracks):
            acodec = audio_codec or AUDIO_CODECS.get(ext, "aac")
            rate = 48000
            a = out.add_stream(acodec, rate=rate)
            a.layout = "stereo"
            a.metadata["language"] = audio_languages[k % len(audio_languages)]
            audio.append(a)
        sub = None
        if subtitles:
            sub = out.add_mux_stream(SUBTITLE_CODECS.get(ext, "subrip"))
            sub.time_base = Fraction(1, 1000)
            sub.metadata["language"] = subtitle_language

        for i in range(frames):
            fmt = "rgb48le" if deep else "rgb24"
            img = pixels[i].astype(np.uint16) * 257 if deep else pixels[i]
            frame = av.VideoFrame.from_ndarray(img, format=fmt)
            if colorspace is not None:
                frame.colorspace = colorspace
            frame.pts, frame.time_base = pts[i], time_base
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))

        for k, a in enumerate(audio):
            _write_tone(a, out, duration_s, 220.0 * (k + 2))
        if sub is not None:
            _write_subtitles(sub, out, duration_s, SUBTITLE_CODECS.get(ext, "subrip"))
    return path


def _write_tone(stream, out, duration_s: float, hz: float) -> None:  # noqa: ANN001
    import av

    rate = stream.codec_context.sample_rate
    n = int(round(duration_s * rate))
    block = 1024
    for start in range(0, n, block):
        t = (np.arange(start, min(start + block, n)) / rate).astype(np.float32)
        wave = 0.1 * np.sin(2 * np.pi * hz * t, dtype=np.float32)
        frame = av.AudioFrame.from_ndarray(np.stack([wave, wave]), format="fltp", layout="stereo")
        frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def _write_subtitles(stream, out, duration_s: float, codec: str) -> None:  # noqa: ANN001
    """Two cues, muxed as pre-encoded packets in the container's text format."""
    import av

    cues = [(0.0, duration_s / 2, "First line"), (duration_s / 2, duration_s, "Second line")]
    for start, end, text in cues:
        payload = text.encode()
        if codec == "mov_text":  # 3GPP timed text: a 16-bit big-endian length, then UTF-8
            payload = len(payload).to_bytes(2, "big") + payload
        packet = av.Packet(payload)
        packet.stream = stream
        packet.pts = packet.dts = round(start * 1000)
        packet.duration = max(round((end - start) * 1000), 1)
        packet.time_base = Fraction(1, 1000)
        out.mux(packet)
