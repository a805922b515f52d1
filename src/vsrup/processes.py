"""Whether a process still exists: how stale temporaries and abandoned jobs are told apart
from the files of a run that is still going."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists on this machine (ours included)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    except OSError:
        return False
    return True
