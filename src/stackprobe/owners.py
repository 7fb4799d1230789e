"""Who owns a leftover: every name stackprobe leaves behind (throwaway projects, canaries,
scratch directories, throwaway containers and images, fault records) carries the runner (this
machine) and the pid of the run that made it, so a later run removes only what a dead run left,
never a concurrent run's. One liveness check for all of them."""

from __future__ import annotations

import hashlib
import os
import socket
from pathlib import Path

RUNNER = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]


def pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this machine (one of another user counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_start(pid: int) -> str:
    """The kernel's start time of `pid` (clock ticks since boot), "" if unknown: a pid that was
    reused by another process has another start time."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # the command name (field 2) may hold spaces and parentheses: split after its last ")"
    fields = stat.rsplit(")", 1)[-1].split()
    return fields[19] if len(fields) > 19 else ""


def owner_alive(pid: int, runner: str = RUNNER, started: str = "") -> bool:
    """Is the run that left something still alive? Another runner's leftover is taken as alive
    (its processes cannot be seen from here); a reused pid (another start time) is not."""
    if runner != RUNNER:
        return True
    if pid == os.getpid():
        return True
    return pid_alive(pid) and (not started or process_start(pid) in ("", started))
