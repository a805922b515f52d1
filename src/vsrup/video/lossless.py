"""Resume segments for image-sequence outputs: lossless FFV1 RGB, turned into PNGs at the end.

A PNG sequence has no encoder whose packets could be stream-copied, so its segments hold the
exact quantised frames (8-bit or 16-bit RGB, FFV1 is lossless) and stitching decodes them into
the `ImageSequenceWriter`. Same interface as `VideoWriter` (`prepared`, `video_frames`,
`packet_encoder`, `mux_packets`), so the engine's segment writer serves both.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

_FORMATS = {False: ("rgb24", "bgr0"), True: ("rgb48le", "gbrp16le")}


class LosslessSegments:
    time_base = Fraction(1, 1000)

    def __init__(self, writer: Any, width: int, height: int) -> None:  # ImageSequenceWriter
        self.writer = writer
        self.width, self.height = width, height
        self.src_fmt, self.pix_fmt = _FORMATS[bool(writer.deep)]
        self._n = 0  # encoder pts: monotonic across segments

    def prepared(self, arrays: np.ndarray, pts: Sequence[Any]) -> np.ndarray:
        want = np.uint16 if self.writer.deep else np.uint8
        if arrays.shape[1:] != (self.height, self.width, 3) or arrays.dtype != want:
            raise ValueError(f"arrays are {arrays.shape} {arrays.dtype}, expected "
                             f"(T, {self.height}, {self.width}, 3) {np.dtype(want)}")  # fmt: skip
        return np.ascontiguousarray(arrays)

    def video_frames(self, arrays: np.ndarray, pts: Sequence[Any]) -> Iterator:
        import av

        for array in arrays:
            frame = av.VideoFrame.from_ndarray(array, format=self.src_fmt)
            frame = frame.reformat(format=self.pix_fmt)
            frame.pts = self._n
            frame.time_base = self.time_base
            self._n += 1
            yield frame

    def packet_encoder(self) -> Any:
        import av

        cc = av.CodecContext.create("ffv1", "w")
        cc.width, cc.height, cc.pix_fmt = self.width, self.height, self.pix_fmt
        cc.time_base = self.time_base
        cc.options = {"level": "1"}  # FFV1 version 1: no extradata, each segment stands alone
        return cc

    def mux_packets(self, packets: Iterable) -> None:
        import av

        cc = av.CodecContext.create("ffv1", "r")
        cc.width, cc.height, cc.pix_fmt = self.width, self.height, self.pix_fmt
        for packet in packets:
            for frame in cc.decode(packet):
                array = frame.to_ndarray(format=self.src_fmt)
                self.writer.write_array(array[None], [frame.pts])
        for frame in cc.decode(None):
            self.writer.write_array(frame.to_ndarray(format=self.src_fmt)[None], [frame.pts])
