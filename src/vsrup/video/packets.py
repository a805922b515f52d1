"""Encoded video packets kept in a file exactly as the encoder gave them.

A segment of the resume store is a run of packets from one encoder (one closed GOP run). No
container is used on purpose: Matroska and NUT keep no decode timestamps, MP4 rewrites them,
while stream-copying into the final file needs every packet's pts, dts, duration and keyframe
flag unchanged. The format is a magic line, then per packet a fixed little-endian header
(pts, dts, duration, flags, size) and the payload.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

MAGIC = b"vsrup-packets 1\n"
_HEADER = struct.Struct("<qqqBI")
_NONE = -(2**63)  # no timestamp
_KEY = 1


class PacketFile:
    """Packets appended to `path` as the encoder produces them (nothing held in memory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.packets = 0
        self.bytes = 0
        self._fh = open(path, "wb")  # noqa: SIM115 - closed by close()/discard()
        self._fh.write(MAGIC)

    def add(self, packets: Iterable) -> None:  # noqa: ANN001
        for p in packets:
            data = bytes(p)
            self._fh.write(
                _HEADER.pack(
                    _NONE if p.pts is None else p.pts,
                    _NONE if p.dts is None else p.dts,
                    p.duration or 0,
                    _KEY if p.is_keyframe else 0,
                    len(data),
                )
            )
            self._fh.write(data)
            self.packets += 1
            self.bytes += len(data)

    def close(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())  # a segment is final once renamed: make it durable first
        self._fh.close()

    def discard(self) -> None:
        self._fh.close()
        self.path.unlink(missing_ok=True)


def read_packets(path: Path, time_base: Fraction) -> Iterator:
    """The av.Packets of a file written by `write_packets`, in order."""
    import av

    with open(path, "rb") as fh:
        if fh.read(len(MAGIC)) != MAGIC:
            raise OSError(f"{path}: not a vsrup packet file")
        while header := fh.read(_HEADER.size):
            if len(header) != _HEADER.size:
                raise OSError(f"{path}: truncated")
            pts, dts, duration, flags, size = _HEADER.unpack(header)
            data = fh.read(size)
            if len(data) != size:
                raise OSError(f"{path}: truncated")
            packet = av.Packet(data)
            packet.pts = None if pts == _NONE else pts
            packet.dts = None if dts == _NONE else dts
            packet.duration = duration
            packet.is_keyframe = bool(flags & _KEY)
            packet.time_base = time_base
            yield packet
