"""Timestamps of the packets one output stream receives, made valid before the muxer sees them.

Decode timestamps: libx265 leaves the dts of a run shorter than its B-frame delay (one or two
frames at the default presets: a 2-frame clip, the last segment of a long one) uninitialised:
in most of 20 upscales of a 2-frame clip to HEVC here the dts came out as pts - 1.4e17 or
such, and MP4 refused 12 of them ("pts/dts pair unsupported", after every frame was computed).
A packet's dts is usable when it is not above its pts, is after the previous packet's, and is
less than a day below its pts (a reorder delay spans a few frames: a day is far beyond any
real one, and far short of the garbage seen); any other is set to the packet's pts, which is
the true dts of a run that is not reordered (the only kind that comes out this way). A stream
that cannot be repaired so is refused with a clear error rather than written damaged.

Stitched segments: the writer moves a frame whose timestamp repeats the previous one a tick
later, but a segment does so within itself only (its packets must not depend on the segments
encoded before it, by this process or another). When a segment's first frame repeats the
previous segment's last timestamp, the whole segment (pts and dts, so its decode order stays
valid) is moved just past it: without that, MP4 got two frames at one time (and before decode
times were checked here, wrong times for the first frames of the file).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from fractions import Fraction

#: No reorder delay is this long (seconds): it spans a few frames. Generous on purpose, so that
#: variable-rate footage with long pauses between frames keeps its encoder's dts.
MAX_DELAY_S = 86_400


class DecodeTimesError(ValueError):
    """The encoder's timestamps cannot be made into a valid decode order."""


class PacketTimes:
    """Checks (and repairs) the timestamps of one stream's packets, in mux order, in the
    encoder's `time_base`."""

    def __init__(self, time_base: Fraction) -> None:
        self.window = round(MAX_DELAY_S / time_base)  # ticks
        self.repaired = 0  # packets whose dts was replaced
        self.moved_segments = 0  # stitched segments moved past a repeated timestamp
        self.most_moved = 0  # ticks, the largest such move
        self.latest: int | None = None  # the largest pts so far
        self._last_dts: int | None = None

    def checked(self, packets: Iterable) -> list:
        return [self.check(p) for p in packets]

    def segment(self, packets: Iterable) -> Iterator:
        """One encoder run's packets (a closed GOP run: the first packet is its first frame),
        moved later as a whole when that frame does not come after every earlier one."""
        shift = 0
        for n, packet in enumerate(packets):
            if n == 0 and packet.pts is not None and self.latest is not None:
                shift = max(0, self.latest + 1 - packet.pts)
                self.moved_segments += shift > 0
                self.most_moved = max(self.most_moved, shift)
            if shift:
                packet.pts += shift
                if packet.dts is not None:
                    packet.dts += shift
            yield self.check(packet)

    def check(self, packet):  # noqa: ANN001, ANN201 - an av.Packet, returned
        pts, dts = packet.pts, packet.dts
        if pts is None:  # the muxer derives what it can; nothing to check against
            return packet
        self.latest = pts if self.latest is None else max(self.latest, pts)
        last = self._last_dts
        if dts is None or not pts - self.window <= dts <= pts or last is not None and dts <= last:
            if last is not None and pts <= last:
                raise DecodeTimesError(f"the encoder's decode timestamps are unusable (dts "
                                       f"{dts} for pts {pts} after dts {last})")  # fmt: skip
            packet.dts = dts = pts
            self.repaired += 1
        self._last_dts = dts
        return packet


def moved_message(label: str, frames: int, times: PacketTimes, time_base: Fraction) -> str | None:
    """The warning for frames moved past a repeated timestamp (None when none were)."""
    tick = f"{float(time_base):.6g} s"
    parts = []
    if frames:
        parts.append(f"{frames} frame(s) repeated the previous frame's timestamp; each was moved "
                     f"one tick ({tick}) later")  # fmt: skip
    if times.moved_segments:
        parts.append(f"{times.moved_segments} segment(s) began on the previous frame's timestamp; "
                     f"all of their frames were moved up to {times.most_moved} tick(s) ({tick}"
                     " each) later")  # fmt: skip
    return f"{label}: " + "; ".join(parts) + " so that no frame is lost" if parts else None
