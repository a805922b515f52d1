"""sha256 of weight files: streamed in chunks, so a 20 GB file never sits in memory."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vsrup.errors import WeightsError

CHUNK = 8 * 1024 * 1024
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


def is_sha256(text: str) -> bool:
    return bool(_SHA256.fullmatch(text))


def sha256_file(path: str | Path, progress: Callable[[int], None] | None = None) -> str:
    """Hex sha256 of a file; `progress(n)` is called with each chunk's size."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return digest.hexdigest()


def check_file(path: str | Path, expected: str) -> str:
    """Raise WeightsError unless the file's sha256 is `expected`; return the digest."""
    actual = sha256_file(path)
    if actual != expected.lower():
        raise WeightsError(
            f"checksum mismatch: sha256 is {actual}, expected {expected.lower()}",
            path=path,
            hint="the file is corrupt or a different version; fetch it again",
        )
    return actual


@dataclass(frozen=True)
class FileCheck:
    """The outcome of checking one file: ok, mismatch, or unchecked (no reference hash)."""

    path: Path
    status: str
    expected: str | None = None
    actual: str | None = None


def check_files(expected: dict[Path, str | None]) -> list[FileCheck]:
    """Check several files; those without a reference hash are reported as unchecked."""
    results: list[FileCheck] = []
    for path, want in expected.items():
        if not path.is_file():
            results.append(FileCheck(path, "missing", want))
        elif want is None:
            results.append(FileCheck(path, "unchecked"))
        else:
            got = sha256_file(path)
            status = "ok" if got == want.lower() else "mismatch"
            results.append(FileCheck(path, status, want.lower(), got))
    return results
