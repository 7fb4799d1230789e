"""One Docker engine shared by the test run's xdist workers.

Most Docker tests only need their own copies and run side by side. A few judge the engine as a
whole (a killed run's leftovers that any other run's start would sweep first, every compose
project on the host): those are marked `alone` and run while no other Docker test does.

A readers-writer lock over two files (flock): every Docker test holds the main file shared, an
`alone` test holds it exclusive. Readers pass through a turnstile that a waiting writer holds,
so a stream of short tests on the other workers cannot starve an `alone` test.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def lock_dir() -> Path | None:
    """The lock files' directory for this test run's workers, None outside xdist."""
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID")
    if not run:
        return None
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"stackprobe-tests-{run}"
    path.mkdir(exist_ok=True)
    return path


@contextmanager
def engine_use(directory: Path, alone: bool) -> Iterator[None]:
    with open(directory / "turnstile", "a") as turnstile, open(directory / "engine", "a") as engine:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(engine, fcntl.LOCK_EX if alone else fcntl.LOCK_SH)
        finally:
            if not alone:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(engine, fcntl.LOCK_UN)
            if alone:
                fcntl.flock(turnstile, fcntl.LOCK_UN)
