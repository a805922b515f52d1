"""What a distributed run sends to its workers and gets back: small, picklable records.

A file is first *prepared* on a worker (it loads the method there anyway, and the job's
identity needs the loaded method's resume settings), then its unfinished *segments* are
rendered on any worker, then the driver stitches the file by stream copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vsrup.engine.pipeline import UpscaleJob
from vsrup.engine.segments import SegmentPlan


@dataclass(frozen=True)
class PrepareTask:
    job: UpscaleJob


@dataclass(frozen=True)
class FilePlan:
    """A prepared file: its job identity (names the store), frame count and output size."""

    identity: dict[str, Any]
    total: int
    width: int
    height: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SegmentTask:
    job: UpscaleJob
    identity: dict[str, Any]
    segment: SegmentPlan
