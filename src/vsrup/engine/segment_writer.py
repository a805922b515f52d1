"""The engine's sink when the resume store is on: finished frames → encoded segments.

`SegmentWriter.write(frame, pts)` receives quantised output frames in order (from the
scheduler's encode thread), encodes them with a fresh encoder per segment (`target`'s
`packet_encoder`), streams the packets to a temporary file in the job's directory and hands
the file to the store when the segment's last frame is in. `close()` finishes the last,
possibly shorter, segment; `abort()` drops an unfinished one (it is redone on resume).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Protocol

import numpy as np

from vsrup.engine.resume import ResumeStore
from vsrup.video.packets import PacketFile


class SegmentTarget(Protocol):
    """What the final output offers: the encoder it would use and the frame conversion."""

    time_base: Fraction

    def prepared(self, arrays: np.ndarray, pts: Any) -> np.ndarray: ...

    def video_frames(self, arrays: np.ndarray, pts: Any) -> Any: ...

    def stamped(self, frame: Any, pts: Any) -> Any: ...

    def packet_encoder(self) -> Any: ...

    def mux_packets(self, packets: Any) -> None: ...


class SegmentWriter:
    def __init__(self, store: ResumeStore, target: SegmentTarget, first: int | None = None):
        self.store = store
        self.target = target
        # The next frame's index in the output: a segment boundary.
        self.index = store.frames_done if first is None else first
        self._first = self.index
        self._encoder: Any = None
        self._file: PacketFile | None = None
        self._pts: list[Any] = []

    def write(self, frame: np.ndarray, pts: Any) -> None:
        """One quantised (H, W, 3) frame with its pts."""
        self._open()
        assert self._file is not None
        arrays = self.target.prepared(frame[None], [pts])
        for vf in self.target.video_frames(arrays, [pts]):
            self._file.add(self._encoder.encode(vf))
        self._finished_one(pts)

    def write_frame(self, frame: Any, pts: Any) -> None:
        """One PyAV frame already in the encoder's pixel format and size (the direct
        resampling path), with its pts: encoded as `write` would encode its RGB twin."""
        self._open()
        assert self._file is not None
        self._file.add(self._encoder.encode(self.target.stamped(frame, pts)))
        self._finished_one(pts)

    def _open(self) -> None:
        if self._encoder is None:
            self._first = self.index
            self._encoder = self.target.packet_encoder()
            self._file = PacketFile(self.store.temp_path(self._first))
            self._pts = []

    def _finished_one(self, pts: Any) -> None:
        self._pts.append(pts)
        self.index += 1
        if self.index == self.store.segment_end(self._first):
            self._commit()

    def close(self) -> None:
        if self._encoder is not None:
            self._commit()

    def abort(self) -> None:
        if self._file is not None:
            self._file.discard()
        self._encoder = self._file = None

    def _commit(self) -> None:
        assert self._file is not None
        self._file.add(self._encoder.encode(None))  # flush: the segment ends its GOP here
        self._file.close()
        self.store.add(
            self._first,
            self.index - self._first,
            self._file.path,
            self._file.packets,
            self._file.bytes,
            [self._pts[0], self._pts[-1]],
            self.target.time_base,
        )
        self._encoder = self._file = None
