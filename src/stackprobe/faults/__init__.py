"""Faults that always roll back: crashed, stopped, paused, partitioned, slowed.

    from stackprobe.faults import crashed
    with crashed(target, "backend") as fault:   # ephemeral targets; live ones need allow_destructive
        ...

See inject.py for how each fault is made and undone, records.py for the undo records written
before every injection, guard.py for the refusals.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from stackprobe.faults.guard import FaultGuard, parse_fault_spec
from stackprobe.faults.inject import (
    Fault,
    Injector,
    SteadyWait,
    deferred_signals,
    heal_orphans,
    undo_record,
)
from stackprobe.faults.kinds import KINDS, QDISC_HANDLE, FaultError, FaultKind, fault_kind, qdiscs_left
from stackprobe.faults.records import RecordStore, UndoRecord, default_dir
from stackprobe.targets.base import Target

__all__ = [
    "KINDS",
    "QDISC_HANDLE",
    "Fault",
    "FaultError",
    "FaultGuard",
    "FaultKind",
    "Injector",
    "RecordStore",
    "SteadyWait",
    "UndoRecord",
    "crashed",
    "default_dir",
    "deferred_signals",
    "fault_kind",
    "heal_orphans",
    "parse_fault_spec",
    "partitioned",
    "paused",
    "qdiscs_left",
    "slowed",
    "stopped",
    "undo_record",
]


def _injector(target: Target, allow_destructive: bool, state_dir: Path | None,
              steady: SteadyWait | None) -> Injector:
    return Injector.for_target(target, allow_destructive, state_dir, steady)


def crashed(target: Target, service: str, *, allow_destructive: bool = False, state_dir: Path | None = None,
            steady: SteadyWait | None = None) -> contextlib.AbstractContextManager[Fault]:
    return _injector(target, allow_destructive, state_dir, steady).crashed(service)


def stopped(target: Target, service: str, *, allow_destructive: bool = False, state_dir: Path | None = None,
            steady: SteadyWait | None = None) -> contextlib.AbstractContextManager[Fault]:
    return _injector(target, allow_destructive, state_dir, steady).stopped(service)


def paused(target: Target, service: str, *, allow_destructive: bool = False, state_dir: Path | None = None,
           steady: SteadyWait | None = None) -> contextlib.AbstractContextManager[Fault]:
    return _injector(target, allow_destructive, state_dir, steady).paused(service)


def partitioned(target: Target, service: str, *, allow_destructive: bool = False, state_dir: Path | None = None,
                steady: SteadyWait | None = None) -> contextlib.AbstractContextManager[Fault]:
    return _injector(target, allow_destructive, state_dir, steady).partitioned(service)


def slowed(target: Target, service: str, latency_s: float, *, allow_destructive: bool = False,
           state_dir: Path | None = None, steady: SteadyWait | None = None) -> contextlib.AbstractContextManager[Fault]:
    return _injector(target, allow_destructive, state_dir, steady).slowed(service, latency_s)
