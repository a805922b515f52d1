"""Decode timestamps a muxer takes, whatever the encoder reported.

libx265 leaves the dts of a run shorter than its B-frame delay (one or two frames at the
default presets: a 2-frame clip, the last segment of a long one) uninitialised: in most of 20
upscales of a 2-frame clip to HEVC here the dts came out as pts - 1.4e17 or such, and MP4
refused 12 of them ("pts/dts pair unsupported", after every frame was computed). A packet's dts
is usable when it lies within the reorder window below its pts and after the previous packet's;
any other is set to the packet's pts, which is the true dts of a run that is not reordered (the
only kind that comes out this way). A stream that cannot be repaired so is refused with a clear
error rather than written damaged.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

#: Frames an H.264/HEVC decoder may hold for reordering (the DPB's 16): a dts further below
#: its pts than this many frame intervals is not a reorder delay.
REORDER_FRAMES = 16


class DecodeTimesError(ValueError):
    """The encoder's timestamps cannot be made into a valid decode order."""


class DecodeTimes:
    """Checks (and repairs) the dts of one stream's packets, in mux order, in the encoder's
    `time_base`; `rate` (frames per second, None if unknown) sizes the reorder window."""

    def __init__(self, rate: Fraction | None = None, time_base: Fraction = Fraction(1)) -> None:
        self.frame_ticks = max(1, round(1 / (rate * time_base))) if rate else 1
        self.repaired = 0  # packets whose dts was replaced
        self._last_dts: int | None = None
        self._last_pts: int | None = None
        self._step = 0  # the largest pts step between consecutive packets seen

    def checked(self, packets: Iterable) -> list:
        return [self.check(p) for p in packets]

    def check(self, packet):  # noqa: ANN001, ANN201 - an av.Packet, returned
        pts, dts = packet.pts, packet.dts
        if pts is None:  # the muxer derives what it can; nothing to check against
            return packet
        if self._last_pts is not None:
            self._step = max(self._step, abs(pts - self._last_pts))
        self._last_pts = pts
        window = REORDER_FRAMES * max(self.frame_ticks, self._step)
        last = self._last_dts
        if dts is None or not pts - window <= dts <= pts or last is not None and dts <= last:
            if last is not None and pts <= last:
                raise DecodeTimesError(f"the encoder's decode timestamps are unusable (dts {dts} "
                                 f"for pts {pts} after dts {last})")  # fmt: skip
            packet.dts = dts = pts
            self.repaired += 1
        self._last_dts = dts
        return packet
