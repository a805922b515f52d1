"""Helpers for the video I/O tests: read timestamps and track facts back with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av


def video_pts_seconds(path: Path) -> list[float]:
    """Presentation times of every decoded video frame, in seconds, in display order."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return sorted(float(f.pts * s.time_base) for f in c.decode(s))


def video_time_base(path: Path) -> Fraction:
    with av.open(str(path)) as c:
        return Fraction(c.streams.video[0].time_base)


def tracks(path: Path) -> list[dict]:
    """For each non-video stream: type, codec, language, packet count and summed duration."""
    with av.open(str(path)) as c:
        streams = [s for s in c.streams if s.type in ("audio", "subtitle")]
        info = {
            s.index: {
                "type": s.type,
                "codec": s.codec_context.name,
                "language": s.metadata.get("language"),
                "packets": 0,
                "duration": 0.0,
            }
            for s in streams
        }
        if streams:
            for pkt in c.demux(streams):
                if pkt.size and pkt.stream.index in info:
                    row = info[pkt.stream.index]
                    row["packets"] += 1
                    row["duration"] += float((pkt.duration or 0) * pkt.time_base)
        return list(info.values())


def stream_facts(path: Path) -> dict:
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return {
            "width": v.codec_context.width,
            "height": v.codec_context.height,
            "pix_fmt": v.codec_context.pix_fmt,
        }


def truncate(src: Path, dst: Path, keep: float = 0.6) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep)])
    return dst


def assert_pts_match(a: list[float], b: list[float], tick: float) -> None:
    assert len(a) == len(b), f"{len(a)} frames in, {len(b)} out"
    worst = max((abs(x - y) for x, y in zip(a, b, strict=True)), default=0.0)
    assert worst <= tick + 1e-9, f"pts differ by {worst} s (> one tick {tick} s)"


def with_chapters(
    src: Path, dst: Path, chapters: list[tuple[float, float, str]], font: bytes | None = None
) -> Path:
    """Remux `src` into `dst` adding chapters (start s, end s, title) and, for Matroska, a
    font attachment."""
    with av.open(str(src)) as i, av.open(str(dst), "w") as o:
        streams = {s.index: o.add_stream_from_template(s) for s in i.streams}
        o.set_chapters([
            {"id": k + 1, "start": round(a * 1000), "end": round(b * 1000),
             "time_base": Fraction(1, 1000), "metadata": {"title": title}}
            for k, (a, b, title) in enumerate(chapters)
        ])  # fmt: skip
        if font is not None:
            o.add_attachment("font.ttf", "font/ttf", font)
        for pkt in i.demux():
            if pkt.dts is None:
                continue
            pkt.stream = streams[pkt.stream.index]
            o.mux(pkt)
    return dst


def chapter_list(path: Path) -> list[tuple[float, float, str]]:
    with av.open(str(path)) as c:
        return [
            (float(ch["start"] * ch["time_base"]), float(ch["end"] * ch["time_base"]),
             ch["metadata"].get("title", ""))
            for ch in c.chapters()
        ]  # fmt: skip


def attachment_names(path: Path) -> list[str]:
    with av.open(str(path)) as c:
        return [s.metadata.get("filename", "") for s in c.streams if s.type == "attachment"]


def clip_with_pts(path: Path, pts_ms: list[int], width: int = 64, height: int = 48) -> Path:
    """An FFV1 Matroska clip whose frames have exactly these timestamps (ms), repeats too."""
    import numpy as np

    with av.open(str(path), "w") as out:
        vs = out.add_stream("ffv1", rate=24)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.time_base = vs.codec_context.time_base = Fraction(1, 1000)
        for i, p in enumerate(pts_ms):
            img = np.full((height, width, 3), (i * 40) % 256, np.uint8)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = p, Fraction(1, 1000)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path
