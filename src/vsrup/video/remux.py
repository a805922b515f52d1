"""Audio, subtitle and attachment tracks and chapters carried from the input into the output.

`PassThrough` opens its own demuxer on the input (only the non-video streams), adds one
output stream per input track with its language, title and disposition, and muxes packets
interleaved with the video: the writer calls `pump(t)` after each video batch so tracks never
run far ahead, and `finish()` at the end.

Tracks are stream-copied. When the output container cannot hold a codec, audio is re-encoded
(AAC; Opus for WebM) and text subtitles are converted to the container's text format
(mov_text for MP4/MOV, SubRip for Matroska, WebVTT for WebM), each with a warning; bitmap
subtitles that cannot be stored are dropped with a warning. Chapters are copied (trimmed and
shifted like the video); attachments (fonts) are kept in Matroska and dropped with a warning
elsewhere. A frame range (previews) trims the tracks to the same time window and shifts them
by the same offset as the video.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from vsrup.video.probe import open_input

TEXT_SUBTITLES = {"mov_text", "subrip", "srt", "webvtt", "text", "ass", "ssa"}
_TEXT_TARGET = {"mp4": "mov_text", "mov": "mov_text", "matroska": "subrip", "webm": "webvtt"}
_AUDIO_TARGET = {"webm": "libopus"}
#: How long before a preview window a subtitle cue may start and still be shown in it.
CUE_LOOKBACK_S = 30.0
_ASS_TAGS = re.compile(r"\{[^}]*\}")


@dataclass
class _Track:
    src: object  # av input stream
    dst: object  # av output stream
    mode: str  # copy | audio | text
    src_codec: str
    dst_codec: str


class PassThrough:
    """Copy (or convert) every non-video track of `source` into `out`."""

    def __init__(
        self,
        source: str | Path,
        out,  # noqa: ANN001 - av OutputContainer, headers not written yet
        *,
        audio: bool = True,
        subtitles: bool = True,
        window: tuple[float, float | None] | None = None,
        offset_s: float = 0.0,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.source = Path(source)
        self.out = out
        self.window = window
        self.offset_s = offset_s
        self.warn = warn or (lambda _msg: None)
        self.container = open_input(self.source)
        self.tracks: dict[int, _Track] = {}
        fmt = out.format.name.split(",")[0]
        supported = out.supported_codecs
        for s in self.container.streams:
            if s.type == "audio" and audio:
                self._add_audio(s, fmt, supported)
            elif s.type == "subtitle" and subtitles:
                self._add_subtitle(s, fmt, supported)
            elif s.type == "attachment":
                self._add_attachment(s, fmt)
        self.chapters = self._copy_chapters()
        self._packets = None
        self._pending = None
        self._done = not self.tracks
        if self.tracks and window and window[0] > 0:
            import av

            # Start early enough to meet subtitle cues that begin before the window and are
            # still on screen inside it.
            early = max(window[0] - CUE_LOOKBACK_S, 0.0)
            self.container.seek(int(early * av.time_base), backward=True)

    # -- set-up ------------------------------------------------------------------------------
    def _describe(self, s) -> str:  # noqa: ANN001
        lang = s.metadata.get("language")
        return f"{s.type} track {s.index}" + (f" ({lang})" if lang and lang != "und" else "")

    def _copy_tags(self, s, dst) -> None:  # noqa: ANN001
        for key in ("language", "title", "handler_name"):
            if key in s.metadata:
                dst.metadata[key] = s.metadata[key]
        with contextlib.suppress(AttributeError, TypeError, ValueError):
            dst.disposition = s.disposition

    def _add_copy(self, s, codec: str) -> None:  # noqa: ANN001
        dst = self.out.add_stream_from_template(s)
        self._copy_tags(s, dst)
        self.tracks[s.index] = _Track(s, dst, "copy", codec, codec)

    def _add_attachment(self, s, fmt: str) -> None:  # noqa: ANN001
        name = s.metadata.get("filename") or f"attachment {s.index}"
        if fmt == "matroska":
            self._add_copy(s, s.codec_context.name if s.codec_context else "attachment")
            return
        self.warn(f"{self.source}: attachment {name!r} cannot be stored in {fmt}; dropped "
                  "(use .mkv to keep fonts and other attachments)")  # fmt: skip

    def _copy_chapters(self) -> int:
        """Chapters, trimmed to the preview window and shifted like the video; returns how
        many were kept."""
        kept = []
        for ch in self.container.chapters():
            tb = Fraction(ch["time_base"])
            start, end = float(ch["start"] * tb), float(ch["end"] * tb)
            if self.window is not None:
                lo, hi = self.window
                if end <= lo or (hi is not None and start >= hi):
                    continue
                start, end = max(start, lo), end if hi is None else min(end, hi)
            ticks = round(self.offset_s / tb)
            kept.append({**ch, "id": len(kept) + 1, "start": round(start / tb) - ticks,
                         "end": round(end / tb) - ticks})  # fmt: skip
        if kept:
            try:
                self.out.set_chapters(kept)
            except (ValueError, OSError) as exc:  # a container without chapter support
                self.warn(f"{self.source}: {len(kept)} chapters cannot be stored: {exc}")
                return 0
        return len(kept)

    def _add_audio(self, s, fmt: str, supported: set[str]) -> None:  # noqa: ANN001
        codec = s.codec_context.name
        if codec in supported:
            self._add_copy(s, codec)
            return
        target = _AUDIO_TARGET.get(fmt, "aac")
        rate = 48000 if target == "libopus" else s.codec_context.sample_rate
        dst = self.out.add_stream(target, rate=rate)
        dst.layout = s.codec_context.layout.name if s.codec_context.channels <= 2 else "5.1"
        self._copy_tags(s, dst)
        self.tracks[s.index] = _Track(s, dst, "audio", codec, target)
        self.warn(
            f"{self.source}: {self._describe(s)}: {codec} cannot be stored in {fmt}; "
            f"re-encoding it to {target.removeprefix('lib')}"
        )

    def _add_subtitle(self, s, fmt: str, supported: set[str]) -> None:  # noqa: ANN001
        codec = s.codec_context.name
        if codec in supported or (codec == "srt" and "subrip" in supported):
            self._add_copy(s, codec)
            return
        target = _TEXT_TARGET.get(fmt)
        if codec not in TEXT_SUBTITLES or target is None:
            self.warn(
                f"{self.source}: {self._describe(s)}: {codec} subtitles cannot be stored in "
                f"{fmt}; dropped (use .mkv to keep them)"
            )
            return
        dst = self.out.add_mux_stream(target)
        dst.time_base = Fraction(1, 1000)
        self._copy_tags(s, dst)
        self.tracks[s.index] = _Track(s, dst, "text", codec, target)
        self.warn(
            f"{self.source}: {self._describe(s)}: converting {codec} subtitles to {target} "
            f"for {fmt} (styling is dropped)"
        )

    # -- muxing --------------------------------------------------------------------------------
    def _next(self):  # noqa: ANN202
        if self._pending is not None:
            pkt, self._pending = self._pending, None
            return pkt
        if self._packets is None:
            self._packets = self.container.demux([t.src for t in self.tracks.values()])
        import av

        try:
            return next(self._packets)
        except StopIteration:
            return None
        except av.error.FFmpegError:  # a damaged tail: keep what was copied so far
            return None

    def pump(self, until_s: float | None) -> None:
        """Mux every track packet that starts before `until_s` input seconds (None: all)."""
        while not self._done:
            pkt = self._next()
            if pkt is None:
                self._finish_encoders()
                self._done = True
                return
            track = self.tracks.get(pkt.stream.index)
            if track is None or pkt.size == 0 and track.mode != "audio":
                continue
            t = _packet_seconds(pkt)
            if until_s is not None and t is not None and t > until_s:
                self._pending = pkt
                return
            if self.window and t is not None:
                lo, hi = self.window
                if t < lo - 1e-6 and not self._runs_into(track, pkt, t, lo):
                    continue
                if hi is not None and t >= hi - 1e-6:
                    continue  # later packets of other tracks may still be inside
                if track.src.type == "subtitle":
                    _trim_cue(pkt, lo, hi)
            self._mux(track, pkt)

    @staticmethod
    def _runs_into(track: _Track, pkt, t: float, lo: float) -> bool:  # noqa: ANN001
        """A subtitle cue that starts before the window but is still shown inside it."""
        if track.src.type != "subtitle" or not pkt.duration:
            return False
        return t + float(pkt.duration * pkt.time_base) > lo + 1e-6

    def _shift(self, pkt) -> None:  # noqa: ANN001
        if not self.offset_s:
            return
        ticks = round(self.offset_s / pkt.time_base)
        if pkt.pts is not None:
            pkt.pts -= ticks
        if pkt.dts is not None:
            pkt.dts -= ticks

    def _mux(self, track: _Track, pkt) -> None:  # noqa: ANN001
        if track.mode == "copy":
            if track.src_codec == "mov_text" and pkt.size <= 2:
                return  # an empty gap sample: the MP4 muxer writes its own where needed
            self._shift(pkt)
            pkt.stream = track.dst
            self.out.mux(pkt)
        elif track.mode == "audio":
            for frame in pkt.decode():
                if frame.pts is not None and self.offset_s:
                    frame.pts -= round(self.offset_s / frame.time_base)
                frame.pts = None  # let the encoder number samples continuously
                self.out.mux(track.dst.encode(frame))
        else:
            self._mux_text(track, pkt)

    def _mux_text(self, track: _Track, pkt) -> None:  # noqa: ANN001
        import av

        text = subtitle_text(bytes(pkt), track.src_codec)
        if text is None or pkt.pts is None:
            return
        data = encode_subtitle_text(text, track.dst_codec)
        start = float(pkt.pts * pkt.time_base) - self.offset_s
        dur = float((pkt.duration or 0) * pkt.time_base)
        out = av.Packet(data)
        out.stream = track.dst
        out.time_base = Fraction(1, 1000)
        out.pts = out.dts = round(start * 1000)
        out.duration = max(round(dur * 1000), 1)
        self.out.mux(out)

    def _finish_encoders(self) -> None:
        for track in self.tracks.values():
            if track.mode == "audio":
                self.out.mux(track.dst.encode(None))

    def finish(self) -> None:
        self.pump(None)
        self.close()

    def close(self) -> None:
        self.container.close()


def _trim_cue(pkt, lo: float, hi: float | None) -> None:  # noqa: ANN001
    """Cut a subtitle cue to the window [lo, hi): it starts no earlier and ends no later."""
    if pkt.pts is None or not pkt.duration:
        return
    tb = pkt.time_base
    end = pkt.pts + pkt.duration
    start = max(pkt.pts, math.ceil(lo / tb - 1e-9))
    if hi is not None:
        end = min(end, math.floor(hi / tb + 1e-9))
    pkt.pts = pkt.dts = start
    pkt.duration = max(end - start, 1)


def _packet_seconds(pkt) -> float | None:  # noqa: ANN001
    ts = pkt.pts if pkt.pts is not None else pkt.dts
    return None if ts is None or pkt.time_base is None else float(ts * pkt.time_base)


def subtitle_text(data: bytes, codec: str) -> str | None:
    """The plain text of one subtitle packet, or None when it carries none."""
    if codec == "mov_text":
        if len(data) < 2:
            return None
        n = int.from_bytes(data[:2], "big")
        return data[2 : 2 + n].decode("utf-8", "replace")
    text = data.decode("utf-8", "replace")
    if codec in ("ass", "ssa"):
        # Matroska ASS packets: ReadOrder,Layer,Style,Name,MarginL,MarginR,MarginV,Effect,Text
        parts = text.split(",", 8)
        text = parts[-1] if len(parts) == 9 else text
        text = _ASS_TAGS.sub("", text).replace("\\N", "\n").replace("\\n", "\n")
    return text


def encode_subtitle_text(text: str, codec: str) -> bytes:
    raw = text.encode("utf-8")
    if codec == "mov_text":
        return len(raw).to_bytes(2, "big") + raw
    return raw
