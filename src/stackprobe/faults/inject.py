"""Faults as context managers that always roll back.

    injector = Injector.for_target(target, allow_destructive=True)
    with injector.crashed("backend") as fault:      # SIGKILL of the main process, from the host
        ...                                         # measure; fault.restore() undoes early
    # undone here, also on Ctrl-C and SIGTERM (the plugin turns SIGTERM into KeyboardInterrupt),
    # then the steady state is awaited

Every fault writes its undo record (records.py) before it injects, undoes in `finally` with
SIGINT/SIGTERM held back until the undo is complete, and removes the record once undone. A run
killed outright leaves the record; `heal_orphans()` (the plugin calls it when it attaches to a
target) undoes what it describes and says so.

How each kind is made and undone: kinds.py (one class per kind, in the registry `KINDS`).
"""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from docker.errors import APIError, NotFound

from stackprobe.errors import StackprobeUsageError
from stackprobe.faults.guard import FaultGuard
from stackprobe.faults.kinds import (
    FaultError,
    api_text,
    fault_kind,
)
from stackprobe.faults.records import RecordStore, UndoRecord, default_dir
from stackprobe.targets.base import Service, Target


class Steady(Protocol):
    holds: bool


SteadyWait = Callable[[float], Steady]

# faults of this process that are in place now (one at a time)
_ACTIVE: list[Fault] = []
_LOCK = threading.Lock()


@dataclass
class Fault:
    """A fault in place: when it was injected, what it saw, and how to undo it early."""

    kind: str
    service: str
    record: UndoRecord
    injector: Injector
    issued_at: float = 0.0  # time.monotonic() right before the injection: the earliest it can act
    issued_wall: float = 0.0  # time.time() at the same moment
    injected_at: float = 0.0  # time.monotonic() right after the injection
    injected_wall: float = 0.0  # time.time() at the same moment
    restored_at: float | None = None
    restored_wall: float | None = None
    undo_note: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    healed: Steady | None = None  # the steady state after the undo

    @property
    def old_pid(self) -> int:
        return int(self.record.details.get("pid") or 0)

    @property
    def restored(self) -> bool:
        return self.restored_at is not None

    def restore(self) -> str:
        """Undo now (idempotent); the time of the undo is what recovery is measured from."""
        if self.restored_at is None:
            with deferred_signals():
                self.undo_note = undo_record(self.injector.target, self.record, self.injector.prefix,
                                             self.injector.crash_grace_s)
                self.restored_at, self.restored_wall = time.monotonic(), time.time()
        return self.undo_note


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """SIGINT/SIGTERM wait until the block is done (an undo is never cut in half); then the
    first of them is raised as KeyboardInterrupt."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def remember(signum: int, frame: Any) -> None:
        pending.append(signum)

    previous = {s: signal.signal(s, remember) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending:
            raise KeyboardInterrupt(f"signal {pending[0]} (held back until the fault was undone)")


class Injector:
    """Injects faults into one target, within its guard, recording each before injecting."""

    def __init__(self, target: Target, guard: FaultGuard, store: RecordStore,
                 steady: SteadyWait | None = None, heal_timeout_s: float = 180.0,
                 prefix: list[str] | None = None, crash_grace_s: float = 30.0) -> None:
        self.target = target
        self.guard = guard
        self.store = store
        self.steady = steady
        self.heal_timeout_s = heal_timeout_s
        self.prefix = list(prefix or [])
        self.crash_grace_s = crash_grace_s
        self.last_healed: Steady | None = None  # the steady state after the latest undo

    @classmethod
    def for_target(cls, target: Target, allow_destructive: bool = False, state_dir: Path | None = None,
                   steady: SteadyWait | None = None) -> Injector:
        profile = target.profile
        guard = FaultGuard(target.kind, target.project, allow_destructive,
                           tuple(profile.safety.destructive_services), target.label, profile.source)
        store = RecordStore(state_dir or default_dir(), target.label, target.project)
        return cls(target, guard, store, steady, profile.chaos.heal_timeout_s,
                   profile.chaos.host_command_prefix)

    # --- the faults ----------------------------------------------------------------------
    def crashed(self, service: str) -> contextlib.AbstractContextManager[Fault]:
        return self._fault("crash", service, {})

    def stopped(self, service: str) -> contextlib.AbstractContextManager[Fault]:
        return self._fault("stop", service, {})

    def paused(self, service: str) -> contextlib.AbstractContextManager[Fault]:
        return self._fault("pause", service, {})

    def partitioned(self, service: str) -> contextlib.AbstractContextManager[Fault]:
        return self._fault("partition", service, {})

    def slowed(self, service: str, latency_s: float) -> contextlib.AbstractContextManager[Fault]:
        if latency_s <= 0:
            raise StackprobeUsageError(f"slowed({service!r}): latency must be above 0 s, got {latency_s:g}")
        return self._fault("slow", service, {"latency_s": latency_s})

    # --- machinery -----------------------------------------------------------------------
    def check(self, kind: str, service: str) -> Service:
        """The guard's refusals, then the one-at-a-time rule; nothing is touched before."""
        services = self.target.services()
        reason = self.guard.refusal(kind, service, set(services))
        if reason:
            raise StackprobeUsageError(reason)
        with _LOCK:
            if _ACTIVE:
                busy = _ACTIVE[0]
                raise StackprobeUsageError(f"refusing {kind} of {service!r}: {busy.kind} of {busy.service!r} is in "
                                           "place (faults run one at a time)")
        others = self.store.foreign_active()
        if others:
            other = others[0]
            raise StackprobeUsageError(
                f"refusing {kind} of {service!r}: another run (pid {other.owner_pid}) has a fault in place on project "
                f"{self.target.project!r}: {other.describe()} (record {self.store.path(other)}); faults run one "
                "at a time")
        return services[service]

    @contextlib.contextmanager
    def _fault(self, kind: str, service: str, options: dict[str, Any]) -> Iterator[Fault]:
        svc = self.check(kind, service)
        attrs = svc.inspect()
        details = {**options, **_before(kind, attrs)}
        record = UndoRecord(kind, service, self.target.project, self.target.label, str(attrs["Id"]),
                            svc.container_name, details)
        self.store.write(record)  # before anything changes
        fault = Fault(kind, service, record, self)
        with _LOCK:
            _ACTIVE.append(fault)
        try:
            try:
                fault.issued_at, fault.issued_wall = time.monotonic(), time.time()
                fault.details = _inject(self.target, svc, record, self.prefix)
            finally:
                fault.injected_at, fault.injected_wall = time.monotonic(), time.time()
            record.state = "injected"
            record.details.update(fault.details)
            self.store.write(record)
            yield fault
        finally:
            try:
                fault.restore()
                self.store.remove(record)
            finally:
                with _LOCK:
                    _ACTIVE.remove(fault)
            if self.steady is not None:
                fault.healed = self.last_healed = self.steady(self.heal_timeout_s)


def _before(kind: str, attrs: dict[str, Any]) -> dict[str, Any]:
    """What the undo needs to know, read before the fault: common facts, then the kind's own."""
    state = attrs["State"]
    details: dict[str, Any] = {"pid": int(state.get("Pid") or 0),
                               "restart_policy": (attrs["HostConfig"].get("RestartPolicy") or {}).get("Name") or "no",
                               "restart_count": int(attrs.get("RestartCount", 0))}
    return {**details, **fault_kind(kind).before(attrs)}


def _inject(target: Target, svc: Service, record: UndoRecord, prefix: list[str]) -> dict[str, Any]:
    try:
        return fault_kind(record.kind).inject(target, svc, record, prefix)
    except (APIError, NotFound) as error:
        raise FaultError(f"{record.kind} of {record.service} failed: {api_text(error)}") from None


# --- undo -------------------------------------------------------------------------------------
def undo_record(target: Target, record: UndoRecord, prefix: list[str], crash_grace_s: float = 30.0) -> str:
    """Put back what `record` describes; idempotent. Returns what was done, in words."""
    kind = fault_kind(record.kind, "in an undo record")
    try:
        container = target.docker.containers.get(record.container_id)
    except NotFound:
        return f"{record.container_name} no longer exists: nothing to undo"
    try:
        container.reload()
        return kind.undo(target, container, record, prefix, crash_grace_s)
    except (APIError, NotFound) as error:
        raise FaultError(f"undo of {record.describe()} failed: {api_text(error)}; the record stays in "
                         f"place for the next run to heal") from None


def heal_orphans(target: Target, store: RecordStore, prefix: list[str] | None = None) -> list[str]:
    """Undo the faults of killed runs recorded for this target; one line per record."""
    lines = []
    for record in store.orphaned():
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(record.created))
        try:
            what = undo_record(target, record, prefix or [], crash_grace_s=30.0)
        except FaultError as error:
            lines.append(f"stackprobe: could not heal {record.describe()} left by killed run (pid "
                         f"{record.owner_pid}, {when}): {error}")
            continue
        store.remove(record)
        lines.append(f"stackprobe: healed {record.describe()} left by killed run (pid {record.owner_pid}, "
                     f"{when}): {what}")
    for path in store.unreadable():
        lines.append(f"stackprobe: unreadable undo record {path} (left as it is: check the stack by hand)")
    return lines
