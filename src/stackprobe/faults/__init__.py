"""Faults that always roll back: crash, stop, pause, partition, slow, through one injector per
run (the plugin's `fault_injector` fixture).

    with fault_injector.crashed("backend") as fault:   # live targets need allow_destructive
        ...

See kinds.py for how each fault is made and undone, inject.py for the injector, records.py for the undo records written
before every injection, guard.py for the refusals.
"""

from __future__ import annotations

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
    "default_dir",
    "deferred_signals",
    "fault_kind",
    "heal_orphans",
    "parse_fault_spec",
    "qdiscs_left",
    "undo_record",
]
