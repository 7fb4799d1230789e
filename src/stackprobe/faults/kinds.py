"""The fault kinds: what each reads before, how it is injected and how it is undone, in one
registry (`KINDS`). The injector, the undo of a killed run's records and the faults marker's
specs all look a kind up here; adding a kind is adding one class.

- crash:     `kill -9` of `docker inspect -f {{.State.Pid}}` on the host (not `docker kill`,
             which marks the container stopped by hand so its restart policy never fires);
             undo: wait for the restart policy, start it by hand if it does not bring it back
- stop:      `docker stop`; undo: start
- pause:     `docker pause` (the cgroup freezer); undo: unpause
- partition: disconnected from every network; undo: reconnected with its aliases (the
             service name, or it stops resolving)
- slow:      `tc qdisc add dev IF root handle 5350: netem delay ...` in the container's network
             namespace (`nsenter -t PID -n`); kernels without sch_netem get a tbf rate limit
             that delays a 100-byte packet by about the same; undo: delete qdisc 5350:
"""

from __future__ import annotations

import math
import re
import time
from typing import Any, ClassVar

from docker.errors import APIError, NotFound

from stackprobe.faults.records import UndoRecord
from stackprobe.targets.base import Service, Target

QDISC_HANDLE = "5350:"  # ours: only a qdisc with this handle is ever deleted
NOMINAL_PACKET_BYTES = 100


class FaultError(RuntimeError):
    """A fault could not be injected or undone; the message says what was seen and a hint."""


def api_text(error: Exception) -> str:
    return str(getattr(error, "explanation", None) or error)[:300]


class FaultKind:
    """One kind of fault. `before` reads what the undo needs (and refuses a container in the
    wrong state), `inject` breaks, `undo` puts back and says what it did."""

    name: ClassVar[str]
    needs_running: ClassVar[bool] = True
    refuses_paused: ClassVar[bool] = False  # it needs the main process to run (a signal, a namespace)

    def before(self, attrs: dict[str, Any]) -> dict[str, Any]:
        state = attrs["State"]
        if self.needs_running and not state.get("Running"):
            raise FaultError(f"cannot {self.name} {attrs['Name'].lstrip('/')}: it is not running (status "
                             f"{state.get('Status')}); the steady state should have caught this")
        if self.refuses_paused and state.get("Paused"):
            raise FaultError(f"cannot {self.name} {attrs['Name'].lstrip('/')}: it is paused")
        return {}

    def inject(self, target: Target, svc: Service, record: UndoRecord, prefix: list[str]) -> dict[str, Any]:
        raise NotImplementedError

    def undo(self, target: Target, container: Any, record: UndoRecord, prefix: list[str], grace_s: float) -> str:
        raise NotImplementedError


class Crash(FaultKind):
    name = "crash"
    refuses_paused = True

    def inject(self, target: Target, svc: Service, record: UndoRecord, prefix: list[str]) -> dict[str, Any]:
        target.host.kill(record.details["pid"], prefix)
        return {"signal": "SIGKILL", "via": "host kill of the main process"}

    def undo(self, target: Target, container: Any, record: UndoRecord, prefix: list[str], grace_s: float) -> str:
        return _await_restart(container, int(record.details.get("pid") or 0), grace_s)


class Stop(FaultKind):
    name = "stop"
    needs_running = False

    def inject(self, target: Target, svc: Service, record: UndoRecord, prefix: list[str]) -> dict[str, Any]:
        svc.container.stop(timeout=10)
        return {"via": "docker stop"}

    def undo(self, target: Target, container: Any, record: UndoRecord, prefix: list[str], grace_s: float) -> str:
        if not container.attrs["State"].get("Running"):
            container.start()
            return "started"
        return "was running"


class Pause(FaultKind):
    name = "pause"

    attempts: ClassVar[int] = 3

    def inject(self, target: Target, svc: Service, record: UndoRecord, prefix: list[str]) -> dict[str, Any]:
        # The freezer gives up when a task will not stop at once (a busy host: runc then thaws
        # it again); a moment later it usually can.
        for attempt in range(1, self.attempts + 1):
            try:
                svc.container.pause()
                return {"via": "docker pause", "attempts": attempt}
            except APIError as error:
                if "unable to freeze" not in str(error) or attempt == self.attempts:
                    raise
                time.sleep(0.5 * attempt)
        raise AssertionError("unreachable")

    def undo(self, target: Target, container: Any, record: UndoRecord, prefix: list[str], grace_s: float) -> str:
        if container.attrs["State"].get("Paused"):
            container.unpause()
            return "unpaused"
        return "was not paused"


class Partition(FaultKind):
    name = "partition"

    def before(self, attrs: dict[str, Any]) -> dict[str, Any]:
        super().before(attrs)
        short = str(attrs["Id"])[:12]
        networks = attrs["NetworkSettings"].get("Networks") or {}
        if not networks:
            raise FaultError(f"cannot partition {attrs['Name'].lstrip('/')}: it is on no network "
                             f"(network mode {attrs['HostConfig'].get('NetworkMode')})")
        return {"networks": {name: [a for a in (net.get("Aliases") or []) if a != short]
                             for name, net in networks.items()}}

    def inject(self, target: Target, svc: Service, record: UndoRecord, prefix: list[str]) -> dict[str, Any]:
        for name in record.details["networks"]:
            target.docker.networks.get(name).disconnect(svc.container)
        return {"disconnected_from": sorted(record.details["networks"])}

    def undo(self, target: Target, container: Any, record: UndoRecord, prefix: list[str], grace_s: float) -> str:
        return _reconnect(target, container, record.details.get("networks") or {})


class Slow(FaultKind):
    name = "slow"
    refuses_paused = True

    def inject(self, target: Target, svc: Service, record: UndoRecord, prefix: list[str]) -> dict[str, Any]:
        return _slow(target, record.details["pid"], float(record.details["latency_s"]), prefix)

    def undo(self, target: Target, container: Any, record: UndoRecord, prefix: list[str], grace_s: float) -> str:
        state = container.attrs["State"]
        if not state.get("Running") or state.get("Paused"):
            return "not running: no network namespace to clean"
        removed = _remove_qdisc(target, int(state.get("Pid") or 0), prefix)
        return f"removed qdisc {QDISC_HANDLE} from {', '.join(removed)}" if removed else "no qdisc of ours left"


KINDS: dict[str, FaultKind] = {kind.name: kind for kind in (Crash(), Stop(), Pause(), Partition(), Slow())}


def fault_kind(name: str, where: str = "") -> FaultKind:
    """The registered kind `name`; an unknown one is an error naming the known kinds."""
    try:
        return KINDS[name]
    except KeyError:
        raise FaultError(f"unknown fault kind {name!r}{' ' + where if where else ''} "
                         f"(known: {', '.join(KINDS)})") from None


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


