"""The resume store: a job's output as encoded segments, each final once written.

The output video is encoded in segments of consecutive frames, each by a fresh encoder (so
each starts with a keyframe: a closed GOP) configured exactly like the final file's stream.
A segment is written to the job's directory under a temporary name, made durable and renamed;
its JSON sidecar is written last, so a segment exists only when it is complete. The final file
is the stream-copy concatenation of the segments plus the audio/subtitle/metadata mux the
writer always does. Nothing is encoded twice, which keeps the store cheap enough to be always
on (docs/engine.md has the measured overhead).

Segment boundaries depend only on the frame index (`segment_frames` per segment, fixed when
the job starts), never on timing, so an interrupted and continued job encodes every segment
from the same frames with the same encoder settings as an uninterrupted one: the decoded
output is identical. After an interruption at most the unfinished segment is redone.

A job's directory is named by a hash of everything that decides its output: the input's
identity (resolved path, size, modification time), the method and its settings, the encoder
settings, the segment size and the software versions. `job.json` records all of it, which
is how `vsrup jobs list` describes a job and how `--resume` explains why a job with other
settings does not match. Each segment's sidecar repeats its input range, the job key, the
method and the versions, so segments are self-describing units (the future unit of
distribution across workers). API: `ResumeStore.open` (plan), `finished`, `SegmentWriter`
(write one), `ResumeStore.stitch`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from vsrup.errors import UsageError
from vsrup.processes import pid_alive

VERSION = 2
JOB_FILE = "job.json"
OWNER_FILE = "owner"


def default_work_root() -> Path:
    from vsrup.hub.registry import cache_root

    return cache_root() / "jobs"


def input_identity(path: str | Path) -> dict[str, Any]:
    """What identifies an input: a changed file never resumes an old job. An image sequence
    given as a pattern or a glob (`f/img_%04d.png`, `f/*.png`) is identified by its images."""
    p = Path(path)
    if not p.exists():
        from vsrup.video.imageseq import list_images

        images = [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in list_images(p)]
        digest = hashlib.sha256(json.dumps(images).encode()).hexdigest()[:20]
        return {"input": str(p.parent.resolve() / p.name), "images": digest}
    p = p.resolve()
    st = p.stat()
    return {"input": str(p), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def software_versions() -> dict[str, str]:
    """Versions that can change output frames or the encoded stream."""
    import av
    import torch

    from vsrup import __version__

    return {"vsrup": __version__, "torch": torch.__version__, "av": av.__version__}


def job_key(identity: Mapping[str, Any]) -> str:
    blob = json.dumps(identity, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


@dataclass
class Segment:
    """One finished segment: frames [first, first + count) of the job's output."""

    first: int
    count: int
    file: str
    packets: int
    bytes: int
    pts: list[int | None]  # first and last frame's pts
    time_base: str


class ResumeStore:
    """The finished segments of one job, in frame order."""

    def __init__(self, directory: Path, identity: dict[str, Any], segments: list[Segment]):
        self.directory = directory
        self.identity = identity
        self.key = job_key(identity)
        self.segment_frames = int(identity["segment_frames"])
        self.segments = segments

    # -- planning ---------------------------------------------------------------------------
    @classmethod
    def open(
        cls, identity: dict[str, Any], *, work_root: Path | None = None, claim: bool = True
    ) -> ResumeStore:
        """The job's store, keeping the finished segments of an earlier run of the same job.

        `claim` (a single-process run) makes this process the job's owner and raises a
        UsageError when a live process owns it already; workers of a distributed run open
        it with `claim=False` (each writes only its own segments, atomically)."""
        key = job_key(identity)
        directory = Path(work_root or default_work_root()) / f"job-{key}"
        segments: list[Segment] = []
        if directory.exists() and claim:
            owner = read_owner(directory)
            if owner is not None and owner != os.getpid() and pid_alive(owner):
                raise UsageError(
                    f"another vsrup process (pid {owner}) is working on this job right now",
                    path=identity.get("input"),
                    hint=f"wait for it, or stop it; its work is in {directory}",
                )
            segments = _load(directory, key)
            for tmp in directory.glob("*.tmp"):  # an unfinished segment of a dead process
                pid = tmp.name.split(".")[-2]
                if not (pid.isdigit() and pid_alive(int(pid))):
                    tmp.unlink(missing_ok=True)
        elif directory.exists():
            segments = _load_quiet_segments(directory, key)
        directory.mkdir(parents=True, exist_ok=True)
        store = cls(directory, identity, segments)
        if claim:
            store._write_job()
            (directory / OWNER_FILE).write_text(str(os.getpid()))
        return store

    def segment_end(self, index: int) -> int:
        """One past the last frame of the segment holding frame `index`."""
        return (index // self.segment_frames + 1) * self.segment_frames

    # -- state --------------------------------------------------------------------------------
    @property
    def frames_done(self) -> int:
        """Output frames [0, frames_done) are finished (the gap-free run of segments)."""
        return sum(s.count for s in self.prefix())

    def prefix(self) -> list[Segment]:
        """The finished segments from frame 0 up to the first missing one."""
        out, expected = [], 0
        for seg in self.segments:
            if seg.first != expected:
                break
            out.append(seg)
            expected += seg.count
        return out

    def finished(self) -> list[Segment]:
        """Every finished segment, in frame order (workers may finish them out of order)."""
        return list(self.segments)

    def add(self, first: int, count: int, data: Path, packets: int, size: int,
            pts: list[int | None], time_base: Fraction) -> Segment:  # fmt: skip
        """Make the written (closed, durable) packet file `data` the segment at `first`
        (replacing one written there before: rendering a segment is idempotent)."""
        if first % self.segment_frames or not 0 < count <= self.segment_frames:
            raise ValueError(f"segment [{first}, {first + count}) is not on the plan "
                             f"({self.segment_frames} frames per segment)")  # fmt: skip
        name = f"seg-{first:09d}.pkt"
        os.replace(data, self.directory / name)
        seg = Segment(first, count, name, packets, size, pts, str(time_base))
        sidecar = {
            "version": VERSION,
            "job": self.key,
            **asdict(seg),
            "input": self.identity.get("input"),
            "method": self.identity.get("method"),
            "settings": self.identity.get("settings"),
            "encode": self.identity.get("encode"),
            "versions": self.identity.get("versions"),
            "written": time.time(),
        }
        _write_json(self.directory / name.replace(".pkt", ".json"), sidecar)
        self.segments = sorted(
            [s for s in self.segments if s.first != first] + [seg], key=lambda s: s.first
        )
        return seg

    def temp_path(self, first: int) -> Path:
        return self.directory / f"seg-{first:09d}.pkt.{os.getpid()}.tmp"

    # -- stitching ------------------------------------------------------------------------------
    def packets(self, seg: Segment) -> Iterator:
        from vsrup.video.packets import read_packets

        return read_packets(self.directory / seg.file, Fraction(seg.time_base))

    def stitch(self, mux: Callable[[Iterable], None], total: int | None = None) -> int:
        """Hand every segment's packets, in order, to `mux` (the final writer's
        `mux_packets`); returns the number of frames. With `total`, every frame must be in a
        finished segment."""
        prefix = self.prefix()
        if len(prefix) != len(self.segments) or total is not None and self.frames_done != total:
            raise ValueError(f"{self.directory}: segments missing: frames [0, "
                             f"{self.frames_done}) of {total} are finished")  # fmt: skip
        for seg in prefix:
            mux(self.packets(seg))
        return self.frames_done

    # -- clean-up ---------------------------------------------------------------------------
    def release(self) -> None:
        """Leave the job for a later run (interrupted or failed)."""
        (self.directory / OWNER_FILE).unlink(missing_ok=True)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)

    def _write_job(self) -> None:
        data = {"version": VERSION, "key": self.key, "identity": self.identity}
        data["created"] = _read_created(self.directory) or time.time()
        _write_json(self.directory / JOB_FILE, data)


def read_owner(directory: Path) -> int | None:
    try:
        return int((directory / OWNER_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _read_created(directory: Path) -> float | None:
    try:
        return float(json.loads((directory / JOB_FILE).read_text())["created"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, default=str))
    os.replace(tmp, path)


def _load(directory: Path, key: str) -> list[Segment]:
    """The complete segments (sidecar readable, data present), in frame order; removes
    what is unusable (the owner's privilege)."""
    segments = _load_quiet_segments(directory, key)
    # Data without a sidecar (or a damaged one) is unusable: remove it.
    keep = {s.file for s in segments} | {s.file.replace(".pkt", ".json") for s in segments}
    for f in [*directory.glob("seg-*.pkt"), *directory.glob("seg-*.json")]:
        if f.name not in keep:
            f.unlink(missing_ok=True)
    return segments


# -- jobs left in the cache -----------------------------------------------------------------


@dataclass
class JobInfo:
    directory: Path
    key: str
    identity: dict[str, Any]
    frames_done: int
    bytes: int
    modified: float
    owner: int | None  # pid of a live process working on it

    @property
    def input(self) -> str:
        return str(self.identity.get("input", "?"))


def list_jobs(work_root: Path | None = None) -> list[JobInfo]:
    """Every job directory under the work root, oldest first."""
    root = Path(work_root or default_work_root())
    jobs = []
    for d in sorted(root.glob("job-*")) if root.is_dir() else []:
        try:
            data = json.loads((d / JOB_FILE).read_text())
            identity = dict(data["identity"])
        except (OSError, ValueError, KeyError, TypeError):
            identity = {}
        key = d.name.removeprefix("job-")
        segs = ResumeStore(d, {"segment_frames": 1}, _load_quiet_segments(d, key)).prefix()
        files = [f for f in d.iterdir() if f.is_file()]
        owner = read_owner(d)
        jobs.append(
            JobInfo(
                directory=d,
                key=key,
                identity=identity,
                frames_done=sum(seg.count for seg in segs),
                bytes=sum(f.stat().st_size for f in files),
                modified=max((f.stat().st_mtime for f in files), default=d.stat().st_mtime),
                owner=owner if owner is not None and pid_alive(owner) else None,
            )
        )
    return sorted(jobs, key=lambda j: j.modified)


def _load_quiet_segments(directory: Path, key: str) -> list[Segment]:
    """The complete segments (sidecar readable, data present), touching nothing."""
    segments: list[Segment] = []
    for sidecar in sorted(directory.glob("seg-*.json")):
        try:
            raw = json.loads(sidecar.read_text())
            if raw.get("version") != VERSION or raw.get("job") != key:
                continue
            seg = Segment(**{k: raw[k] for k in Segment.__dataclass_fields__})
        except (OSError, ValueError, KeyError, TypeError):
            continue
        data = directory / seg.file
        if data.is_file() and data.stat().st_size >= seg.bytes:
            segments.append(seg)
    return segments


def differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    """'name: old → new' for every setting that differs between two job identities."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if a == b:
            continue
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            out += differences(a, b, f"{prefix}{k}.")
        else:
            out.append(f"{prefix}{k}: {a!r} → {b!r}")
    return out


def quantize(frames: Any, bits: int = 8) -> np.ndarray:
    """(T, C, H, W) float frames in [0, 1] → (T, H, W, C) uint8 (bits 8) or uint16 (bits > 8,
    full 16-bit scale), rounding half up like the video writer. The pipeline quantises every
    output frame once, so what the encoder sees does not depend on the path it took. Runs
    where the frames are (a GPU sends 1-byte pixels, not floats)."""
    import torch

    peak = 255.0 if bits <= 8 else 65535.0
    q = frames.detach().to(torch.float32).mul(peak).add_(0.5).clamp_(0, peak)
    q = q.to(torch.uint8 if bits <= 8 else torch.int32).permute(0, 2, 3, 1).contiguous()
    arr = q.to("cpu").numpy()
    return arr if bits <= 8 else arr.astype(np.uint16)
