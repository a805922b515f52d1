"""Times on the command line: seconds (`12.5`) or clock time (`1:02:03.5`, `02:03`)."""

from __future__ import annotations

from vsrup.errors import UsageError


def parse_time(text: str | None, option: str) -> float | None:
    """Seconds from `S[.ms]`, `MM:SS[.ms]` or `HH:MM:SS[.ms]`; None stays None."""
    if text is None:
        return None
    parts = text.strip().split(":")
    try:
        if len(parts) > 3 or any(not p.strip() for p in parts):
            raise ValueError
        values = [float(p) for p in parts]
    except ValueError:
        raise UsageError(
            f"{option} {text!r}: expected seconds (12.5) or [hh:]mm:ss[.ms] (1:02:03.5)"
        ) from None
    if any(not 0 <= v < 60 for v in values[1:]):
        raise UsageError(f"{option} {text!r}: minutes and seconds must be 0-59")
    seconds = 0.0
    for v in values:
        seconds = seconds * 60 + v
    return seconds
