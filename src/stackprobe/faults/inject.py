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

- crashed:     `kill -9` of `docker inspect -f {{.State.Pid}}` on the host (not `docker kill`,
               which marks the container stopped by hand so its restart policy never fires);
               undo: wait for the restart policy, start it by hand if it does not bring it back
- stopped:     `docker stop`; undo: start
- paused:      `docker pause` (the cgroup freezer); undo: unpause
- partitioned: disconnected from every network; undo: reconnected with its aliases (the
               service name, or it stops resolving)
- slowed:      `tc qdisc add dev IF root handle 5350: netem delay ...` in the container's network
               namespace (`nsenter -t PID -n`); kernels without sch_netem get a tbf rate limit
               that delays a 100-byte packet by about the same; undo: delete qdisc 5350:
"""

from __future__ import annotations

import contextlib
import math
import re
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
from stackprobe.faults.records import RecordStore, UndoRecord, default_dir
from stackprobe.targets.base import Service, Target

QDISC_HANDLE = "5350:"  # ours: only a qdisc with this handle is ever deleted
NOMINAL_PACKET_BYTES = 100


class FaultError(RuntimeError):
    """A fault could not be injected or undone; the message says what was seen and a hint."""


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
    """What the undo needs to know, read before the fault."""
    state = attrs["State"]
    details: dict[str, Any] = {"pid": int(state.get("Pid") or 0),
                               "restart_policy": (attrs["HostConfig"].get("RestartPolicy") or {}).get("Name") or "no",
                               "restart_count": int(attrs.get("RestartCount", 0))}
    if kind in ("crash", "pause", "slow", "partition") and not state.get("Running"):
        raise FaultError(f"cannot {kind} {attrs['Name'].lstrip('/')}: it is not running (status "
                         f"{state.get('Status')}); the steady state should have caught this")
    if kind in ("crash", "slow") and state.get("Paused"):
        raise FaultError(f"cannot {kind} {attrs['Name'].lstrip('/')}: it is paused")
    if kind == "partition":
        short = str(attrs["Id"])[:12]
        networks = attrs["NetworkSettings"].get("Networks") or {}
        if not networks:
            raise FaultError(f"cannot partition {attrs['Name'].lstrip('/')}: it is on no network "
                             f"(network mode {attrs['HostConfig'].get('NetworkMode')})")
        details["networks"] = {name: [a for a in (net.get("Aliases") or []) if a != short]
                               for name, net in networks.items()}
    return details


def _inject(target: Target, svc: Service, record: UndoRecord, prefix: list[str]) -> dict[str, Any]:
    container = svc.container
    kind = record.kind
    try:
        if kind == "crash":
            target.host.kill(record.details["pid"], prefix)
            return {"signal": "SIGKILL", "via": "host kill of the main process"}
        if kind == "stop":
            container.stop(timeout=10)
            return {"via": "docker stop"}
        if kind == "pause":
            container.pause()
            return {"via": "docker pause"}
        if kind == "partition":
            for name in record.details["networks"]:
                target.docker.networks.get(name).disconnect(container)
            return {"disconnected_from": sorted(record.details["networks"])}
        if kind == "slow":
            return _slow(target, record.details["pid"], float(record.details["latency_s"]), prefix)
    except (APIError, NotFound) as error:
        raise FaultError(f"{kind} of {record.service} failed: {_api_text(error)}") from None
    raise FaultError(f"unknown fault kind {kind!r}")


def _api_text(error: Exception) -> str:
    return str(getattr(error, "explanation", None) or error)[:300]


# --- slowed: tc in the container's network namespace ---------------------------------------
def _ns(pid: int, prefix: list[str], *command: str) -> list[str]:
    return [*prefix, "nsenter", "-t", str(pid), "-n", *command]


def interfaces(target: Target, pid: int, prefix: list[str]) -> list[str]:
    done = target.host.run(_ns(pid, prefix, "ip", "-o", "link", "show"), timeout=30)
    if done.exit_code != 0:
        raise FaultError(f"cannot list the interfaces of process {pid}'s network namespace on {target.label}: "
                         f"{(done.stderr or done.stdout).strip()[:300]} (needs nsenter and ip from util-linux and "
                         "iproute2, as root; [chaos] host_command_prefix for sudo)")
    names = re.findall(r"^\d+:\s+([^:@\s]+)", done.stdout, re.M)
    return [n for n in names if n != "lo"]


def tbf_arguments(latency_s: float) -> list[str]:
    """A rate limit under which a 100-byte packet waits about `latency_s` (the fallback where the
    kernel has no netem); burst 1600 b so no full-size packet is dropped outright."""
    rate_bits = max(8, math.ceil(NOMINAL_PACKET_BYTES * 8 / latency_s))
    queue_s = max(10.0, latency_s * 4)
    return ["tbf", "rate", f"{rate_bits}bit", "burst", "1600", "latency", f"{queue_s:g}s"]


def netem_arguments(latency_s: float) -> list[str]:
    return ["netem", "delay", f"{round(latency_s * 1000)}ms"]


def _slow(target: Target, pid: int, latency_s: float, prefix: list[str]) -> dict[str, Any]:
    applied: dict[str, str] = {}
    for name in interfaces(target, pid, prefix):
        base = ["tc", "qdisc", "add", "dev", name, "root", "handle", QDISC_HANDLE]
        done = target.host.run(_ns(pid, prefix, *base, *netem_arguments(latency_s)), timeout=30)
        mechanism = " ".join(netem_arguments(latency_s))
        if done.exit_code != 0 and "kind is unknown" in (done.stderr + done.stdout):
            done = target.host.run(_ns(pid, prefix, *base, *tbf_arguments(latency_s)), timeout=30)
            mechanism = " ".join(tbf_arguments(latency_s)) + " (kernel without sch_netem: rate limit)"
        if done.exit_code != 0:
            raise FaultError(f"tc qdisc add on {name} in process {pid}'s network namespace failed: "
                             f"{(done.stderr or done.stdout).strip()[:300]} (is a root qdisc already there?)")
        applied[name] = mechanism
    if not applied:
        raise FaultError(f"process {pid}'s network namespace has no interface but lo: nothing to slow")
    return {"qdisc": applied, "latency_s": latency_s}


def _remove_qdisc(target: Target, pid: int, prefix: list[str]) -> list[str]:
    removed = []
    for name in interfaces(target, pid, prefix):
        shown = target.host.run(_ns(pid, prefix, "tc", "qdisc", "show", "dev", name), timeout=30)
        if re.search(rf"\bqdisc \w+ {QDISC_HANDLE}", shown.stdout):
            done = target.host.run(_ns(pid, prefix, "tc", "qdisc", "del", "dev", name, "root", "handle",
                                       QDISC_HANDLE), timeout=30)
            if done.exit_code != 0:
                raise FaultError(f"tc qdisc del on {name} failed: {(done.stderr or done.stdout).strip()[:300]}")
            removed.append(name)
    return removed


def qdiscs_left(target: Target, service: Service, prefix: list[str] | None = None) -> list[str]:
    """Interfaces of a running service that still carry our qdisc (a steady stack has none)."""
    state = service.state()
    if not state.get("Running") or not state.get("Pid"):
        return []
    pid = int(state["Pid"])
    left = []
    for name in interfaces(target, pid, prefix or []):
        shown = target.host.run(_ns(pid, prefix or [], "tc", "qdisc", "show", "dev", name), timeout=30)
        if re.search(rf"\bqdisc \w+ {QDISC_HANDLE}", shown.stdout):
            left.append(name)
    return left


# --- undo -------------------------------------------------------------------------------------
def undo_record(target: Target, record: UndoRecord, prefix: list[str], crash_grace_s: float = 30.0) -> str:
    """Put back what `record` describes; idempotent. Returns what was done, in words."""
    try:
        container = target.docker.containers.get(record.container_id)
    except NotFound:
        return f"{record.container_name} no longer exists: nothing to undo"
    try:
        container.reload()
        state = container.attrs["State"]
        if record.kind == "pause":
            if state.get("Paused"):
                container.unpause()
                return "unpaused"
            return "was not paused"
        if record.kind == "stop":
            if not state.get("Running"):
                container.start()
                return "started"
            return "was running"
        if record.kind == "partition":
            return _reconnect(target, container, record.details.get("networks") or {})
        if record.kind == "slow":
            if not state.get("Running") or state.get("Paused"):
                return "not running: no network namespace to clean"
            removed = _remove_qdisc(target, int(state.get("Pid") or 0), prefix)
            return f"removed qdisc {QDISC_HANDLE} from {', '.join(removed)}" if removed else "no qdisc of ours left"
        if record.kind == "crash":
            return _await_restart(container, int(record.details.get("pid") or 0), crash_grace_s)
    except (APIError, NotFound) as error:
        raise FaultError(f"undo of {record.describe()} failed: {_api_text(error)}; the record stays in "
                         f"place for the next run to heal") from None
    raise FaultError(f"unknown fault kind {record.kind!r} in an undo record")


def _reconnect(target: Target, container: Any, networks: dict[str, list[str]]) -> str:
    current = set(container.attrs["NetworkSettings"].get("Networks") or {})
    done = []
    for name, aliases in networks.items():
        if name in current:
            continue
        try:
            network = target.docker.networks.get(name)
        except NotFound:
            done.append(f"{name} is gone")
            continue
        network.connect(container, aliases=aliases)
        done.append(f"reconnected to {name} with aliases {aliases}")
    return "; ".join(done) or "was connected"


def _await_restart(container: Any, old_pid: int, grace_s: float) -> str:
    """After a crash: the restart policy's job; started by hand if it does not do it in time."""
    deadline = time.monotonic() + grace_s
    policy = (container.attrs["HostConfig"].get("RestartPolicy") or {}).get("Name") or "no"
    exited_since: float | None = None
    while True:
        container.reload()
        state = container.attrs["State"]
        if state.get("Running") and int(state.get("Pid") or 0) not in (0, old_pid):
            return "restarted by Docker (restart policy)"
        if state.get("Running") and int(state.get("Pid") or 0) == old_pid and old_pid:
            pass  # Docker has not noticed the exit yet
        elif not state.get("Restarting"):
            exited_since = exited_since or time.monotonic()
            # policy "no" never restarts; any other gets a moment for Docker to pick it up
            if policy == "no" or time.monotonic() - exited_since > 3.0 or time.monotonic() > deadline:
                container.start()
                return f"started by hand (restart policy {policy!r} did not bring it back)"
        if time.monotonic() > deadline:
            return "still restarting after the grace period"
        time.sleep(0.1)


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
