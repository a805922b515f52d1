"""Video-codec compression of a short clip in memory, through PyAV's encoders.

As RealBasicVSR degrades its training clips: the frames are encoded at a low bit rate with one
of libx264, h264 (the same encoder under FFmpeg's codec name) or mpeg4, into an in-memory MP4,
and decoded back. Odd sizes are padded by edge replication for 4:2:0 and cropped afterwards.
One encoder thread and no x264 look-ahead keep the result the same on every run.
"""

from __future__ import annotations

import io

import numpy as np

CODECS = ("libx264", "h264", "mpeg4")

#: x264 gave run-to-run differences in P frames even with one thread (seen on 32×32 clips):
#: its AVX-512 code with the macroblock tree (`vsrup.video.x264_cpu`). Without the look-ahead
#: (so without the tree) the same input always gives the same bytes.
_X264 = {"threads": "1", "x264-params": "threads=1:lookahead-threads=1:rc-lookahead=0"}
DETERMINISTIC = {"libx264": _X264, "h264": _X264}


def compress(frames: np.ndarray, codec: str, bitrate: int) -> np.ndarray:
    """(T, H, W, 3) uint8 → the same frames after an encode/decode round trip."""
    import av

    t, h, w, _ = frames.shape
    padded = np.pad(frames, ((0, 0), (0, h % 2), (0, w % 2), (0, 0)), mode="edge")
    buf = io.BytesIO()
    with av.open(buf, "w", format="mp4") as out:
        stream = out.add_stream(codec, rate=25)
        stream.width, stream.height = padded.shape[2], padded.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.bit_rate = int(bitrate)
        stream.options = dict(DETERMINISTIC.get(codec, {"threads": "1"}))
        for frame in padded:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    buf.seek(0)
    with av.open(buf, "r") as src:
        decoded = [f.to_ndarray(format="rgb24") for f in src.decode(video=0)]
    if len(decoded) != t:
        raise RuntimeError(f"{codec} round trip returned {len(decoded)} of {t} frames")
    return np.stack(decoded)[:, :h, :w]
