"""Recovery timing: seconds from a fault (or its undo) to each phase, polled at 100 ms or finer.

Phases (the report's `recovery` evidence): `running` (the container runs again: a new main
process after a crash), `healthy` (Docker reports it healthy), `http_200` (the health endpoint
answers 200 once the service runs again), `first_write` (the first write through the service
succeeds and reads back). Each phase has its own watcher thread; the HTTP and write watchers
send a new request every interval even while earlier ones are still out, so slow answers do
not blur the time of the next one: health requests up to as many as one timeout spans
(`polls_in_flight`, at most 32), writes at most 8; through an exec relay fewer and slower
(`pacing`), as each request there starts a process in the container. A phase counts from
the moment its successful probe *answered*: an upper bound, within one interval plus the
probe's own latency of the true moment. The watcher threads run at a raised priority where the
host allows it (raise_timing_priority), so on a loaded host that latency is the answer's own and
not the time the poller waited for a CPU. After a crash, `running` and `healthy` also come from
the engine's own events, timestamped by the engine (where its clock is this host's).
"""

from __future__ import annotations

import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from stackprobe.chaos.phases import PHASES, percentile
from stackprobe.chaos.probes import Backend, api_probe, api_probe_ok, api_roundtrip, api_writes_allowed
from stackprobe.profile import PhaseSlo
from stackprobe.targets.base import Target, docker_health

WRITES_IN_FLIGHT = 8  # each try is a real write: fewer out at once than health polls
TIMING_NICE = -10  # the pollers' scheduling priority where the host allows raising it


def raise_timing_priority() -> bool:
    """Move the calling thread ahead of the host's load (on Linux nice is per thread), so the
    moment it records is when an answer came, not when a loaded machine got round to the
    thread. Needs root or CAP_SYS_NICE; False where refused, and the thread runs as before."""
    try:
        thread = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, thread, min(os.getpriority(os.PRIO_PROCESS, thread), TIMING_NICE))
    except OSError:
        return False
    return True


PRIORITY_REFUSED = (f"timed at the default priority: raising the pollers' to nice {TIMING_NICE} needs root or "
                    "CAP_SYS_NICE, so on a loaded host a phase can read late by the time its poller waited for a CPU")


def first_success(probe: Callable[[], bool], *, interval_s: float, deadline: float, stop: threading.Event,
                  max_in_flight: int = WRITES_IN_FLIGHT) -> float | None:
    """time.monotonic() at which the first successful probe answered, or None by `deadline`.
    A probe returns True on success, False or raises otherwise."""
    done_at: list[float] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            ok = probe()
        except Exception:
            ok = False
        if ok:
            with lock:
                done_at.append(time.monotonic())

    pool = ThreadPoolExecutor(max_workers=max_in_flight, thread_name_prefix="stackprobe-poll",
                              initializer=raise_timing_priority)
    pending: list[Future[None]] = []
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            with lock:
                if done_at:
                    return min(done_at)
            pending = [f for f in pending if not f.done()]
            if len(pending) < max_in_flight:
                pending.append(pool.submit(attempt))
            stop.wait(interval_s)
        with lock:
            return min(done_at) if done_at else None
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


MAX_POLLS_IN_FLIGHT = 32  # 1.6 s of hanging answers at 50 ms (seen: about 1 s)


def polls_in_flight(timeout_s: float, interval_s: float) -> int:
    """Requests out at once for a poller that sends one every `interval_s`, each answered or
    given up within `timeout_s`: enough that it never waits on the bound (while a dependency is
    back but the backend's answers still hang, a smaller bound stops the poller, and the first
    200 is seen late by up to a timeout), never more than MAX_POLLS_IN_FLIGHT."""
    return max(1, min(MAX_POLLS_IN_FLIGHT, int(timeout_s / interval_s) + 1))


RELAYED_INTERVAL_S = 0.2  # through a relay: a Docker exec and a process in the container per poll
RELAYED_IN_FLIGHT = 4


def pacing(target: Target, service: str, interval_s: float, in_flight: int) -> tuple[float, int]:
    """(interval, requests out at most) for a poller of `service`: as asked, except where the
    suite reaches it through an exec relay (targets/relay.py). There each request is a Docker exec
    and a process started in the service's container; at the direct rate they would compete with
    the very restart being timed, so the poll goes no faster than RELAYED_INTERVAL_S with at most
    RELAYED_IN_FLIGHT out. A relay's own latency (a process start) outweighs the precision lost."""
    if target.relayed(service):
        return max(interval_s, RELAYED_INTERVAL_S), min(in_flight, RELAYED_IN_FLIGHT)
    return interval_s, in_flight


@dataclass
class Trial:
    """One measured recovery: phase -> seconds (None: not reached), plus what was seen."""

    phases: dict[str, float | None] = field(default_factory=lambda: dict.fromkeys(PHASES))
    since_wall: float = 0.0  # time.time() of the fault (or of its undo)
    never: str = ""  # why the container will not come back by itself (restart policy "no")
    old_pid: int = 0
    new_pid: int = 0
    notes: list[str] = field(default_factory=list)

    def evidence(self) -> dict[str, float | None]:
        return {f"{p}_s": (None if v is None else round(v, 3)) for p, v in self.phases.items()}


class RecoveryWatch:
    """Watches one service from `since` (time.monotonic()) until every phase is reached, it
    will never be (it exited and its restart policy is "no"), or `timeout_s` passed."""

    def __init__(self, target: Target, service: str, *, since: float, since_wall: float, old_pid: int | None,
                 interval_s: float, timeout_s: float, write: Callable[[], None] | None, backend: Backend,
                 http_timeout_s: float = 2.0, crashed_wall: float | None = None) -> None:
        self.target, self.service, self.since = target, service, since
        # time.time() just before a crash was sent: the engine's events after it are its restart's
        self.crashed_wall = crashed_wall
        self._events: Any = None  # the engine's event stream while it is read
        self._lock = threading.Lock()
        self.old_pid = old_pid
        self.interval_s, self.timeout_s = interval_s, timeout_s
        self.write, self.backend = write, backend
        self.http_timeout_s = http_timeout_s
        self.trial = Trial(since_wall=since_wall, old_pid=old_pid or 0)
        if write is None:
            self.trial.notes.append("first_write: no write path through this service on this target")
        self._running_at: float | None = None
        self._running = threading.Event()
        self._stop = threading.Event()

    def _mark(self, phase: str, at: float | None) -> None:
        """`at` (time.monotonic()) for `phase`, unless an earlier moment was seen already: the
        engine's event and the poll that sees its effect both report one transition."""
        if at is None:
            return
        value = max(0.0, at - self.since)
        with self._lock:
            seen = self.trial.phases[phase]
            if seen is None or value < seen:
                self.trial.phases[phase] = value

    def _read_engine_events(self, deadline: float) -> None:
        """The restart as the engine recorded it: its `start` and `health_status: healthy` events
        carry the engine's own timestamps, where polling sees each later by up to an interval
        plus the engine's answer time (hundreds of ms on a loaded host). Only for a crash, and
        only where the engine's clock is this host's: over SSH the polling alone counts."""
        if self.crashed_wall is None or self.target.host.remote:
            return
        try:
            container = self.target.service(self.service).container
            self._events = self.target.docker.api.events(
                since=int(self.crashed_wall), until=int(time.time() + deadline - time.monotonic()) + 1,
                filters={"type": "container", "container": container.id}, decode=True)
            if self._stop.is_set():  # the watch ended while the stream opened: run() saw no stream
                self._events.close()
            started = False
            for event in self._events:
                wall = int(event.get("timeNano", 0)) / 1e9
                if wall < self.crashed_wall:
                    continue  # before the crash: an earlier trial's
                at = self.since + wall - self.trial.since_wall
                status = str(event.get("status", ""))
                if status == "start":
                    started = True
                    self._mark("running", at)
                    self._running.set()  # the health and write pollers may start
                elif status == "health_status: healthy" and started:
                    self._mark("healthy", at)
                    return
        except Exception:  # the stream closed at the end of the watch, or the engine refused it
            return

    def _watch_docker(self, deadline: float) -> None:
        if not raise_timing_priority():
            self.trial.notes.append(PRIORITY_REFUSED)
        container = self.target.service(self.service).container
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                container.reload()
            except Exception:
                self._stop.wait(self.interval_s)
                continue
            now = time.monotonic()
            state = container.attrs["State"]
            pid = int(state.get("Pid") or 0)
            running = bool(state.get("Running")) and not state.get("Paused") and not state.get("Restarting") and (
                self.old_pid is None or pid not in (0, self.old_pid))
            if running and self._running_at is None:
                self._running_at = now
                self.trial.new_pid = pid
                self._mark("running", now)
                self._running.set()
            if running and docker_health(state) in ("healthy", "none"):
                self._mark("healthy", now)
                return
            policy = (container.attrs["HostConfig"].get("RestartPolicy") or {}).get("Name") or "no"
            if not state.get("Running") and not state.get("Restarting") and policy == "no" and (
                    now - self.since > 1.0):
                self.trial.never = (f"{self.service} exited ({state.get('Status')}, exit code "
                                    f"{state.get('ExitCode')}) and its restart policy is 'no': Docker will not "
                                    "restart it")
                self._stop.set()
                return
            self._stop.wait(self.interval_s)

    def _after_running(self, phase: str, probe: Callable[[], bool], deadline: float,
                       paced: tuple[float, int]) -> None:
        while not self._running.wait(self.interval_s):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
        # every probe from here on starts after the service ran again: an answer from before the
        # fault (or from the old process) can never count as the recovery
        interval, in_flight = paced
        self._mark(phase, first_success(probe, interval_s=interval, deadline=deadline, stop=self._stop,
                                        max_in_flight=in_flight))

    def _health_ok(self) -> bool:
        answer = self.backend.health(self.http_timeout_s)
        return answer.status == 200

    def _write_ok(self) -> bool:
        assert self.write is not None
        self.write()
        return True

    def run(self) -> Trial:
        deadline = self.since + self.timeout_s
        backend = self.target.profile.services.backend
        direct = (self.interval_s, polls_in_flight(self.http_timeout_s, self.interval_s))
        health = pacing(self.target, backend, *direct)
        if health != direct:
            self.trial.notes.append(f"http_200: polled every {health[0]:g} s, at most {health[1]} out (through "
                                    "docker exec: the port is not published)")
        threads = [threading.Thread(target=self._watch_docker, args=(deadline,), daemon=True),
                   threading.Thread(target=self._read_engine_events, args=(deadline,), daemon=True),
                   threading.Thread(target=self._after_running, daemon=True,
                                    args=("http_200", self._health_ok, deadline, health))]
        if self.write is not None:  # the write goes through the service itself
            writes = pacing(self.target, self.service, self.interval_s, WRITES_IN_FLIGHT)
            threads.append(threading.Thread(target=self._after_running, daemon=True,
                                            args=("first_write", self._write_ok, deadline, writes)))
        for thread in threads:
            thread.start()
        try:
            wanted = [p for p in PHASES if p != "first_write" or self.write is not None]
            while time.monotonic() < deadline and not self._stop.is_set():
                if all(self.trial.phases[p] is not None for p in wanted):
                    break
                time.sleep(self.interval_s / 2)
        finally:
            self._stop.set()
            if self._events is not None:
                self._events.close()
            for thread in threads:
                thread.join(timeout=self.http_timeout_s + 2)
        return self.trial


# --- evidence and judgement ------------------------------------------------------------------
def slo_of(target: Target, service: str) -> PhaseSlo:
    chaos = target.profile.chaos
    return chaos.slo.get(service, chaos.default_slo)


def slo_map(slo: PhaseSlo) -> dict[str, float]:
    return {p: float(getattr(slo, f"{p}_s")) for p in PHASES}


def watch_timeout(target: Target, slo: PhaseSlo) -> float:
    """Long enough to see a breach (1.5 x the largest SLO), never longer than recovery_timeout_s."""
    return min(target.profile.chaos.recovery_timeout_s, 1.5 * max(slo_map(slo).values()) + 5)


def recovery_evidence(fault: str, service: str, slo: PhaseSlo, trials: list[Trial]) -> dict[str, Any]:
    """The report's `recovery` shape: {fault, service, slo_s, trials, p50_s, p95_s}."""
    p50: dict[str, float] = {}
    p95: dict[str, float] = {}
    for phase in PHASES:
        values = [v for t in trials if (v := t.phases.get(phase)) is not None]
        if values:
            p50[phase] = round(percentile(values, 50.0) or 0.0, 3)
            p95[phase] = round(percentile(values, 95.0) or 0.0, 3)
    return {"fault": fault, "service": service, "slo_s": slo_map(slo), "trials": [t.evidence() for t in trials],
            "p50_s": p50, "p95_s": p95}


def judge(recovery: dict[str, Any], trials: list[Trial], skip: tuple[str, ...] = ()) -> list[str]:
    """Breaches of the SLO, in words: a phase never reached in a trial, or a p95 above its SLO."""
    problems = []
    service = recovery["service"]
    for number, trial in enumerate(trials, start=1):
        if trial.never:
            problems.append(f"trial {number}: {trial.never}")
        for phase, value in trial.phases.items():
            if phase in skip or (phase == "first_write" and any("first_write:" in n for n in trial.notes)):
                continue
            if value is None and not trial.never:
                problems.append(f"trial {number}: {service} {phase} not reached within the watch "
                                f"({recovery['slo_s'][phase]:g} s SLO)")
    for phase, slo in recovery["slo_s"].items():
        p95 = recovery["p95_s"].get(phase)
        if phase not in skip and p95 is not None and p95 > slo:
            seen = ", ".join(f"{t.phases[phase]:.2f}" for t in trials if t.phases.get(phase) is not None)
            problems.append(f"{service} {phase}: p95 {p95:.2f} s is over its SLO of {slo:g} s (trials: {seen} s)")
    return problems


def kept_answering(failures: Counter[str]) -> str:
    """What the failed tries of the data path answered, by phase: "POST /x kept answering 500 (all
    12 tries)" when they all answered alike, else the commonest answers with their counts."""
    total = sum(failures.values())
    if not total:
        return "no try of its data path answered in time"
    if len(failures) == 1:
        return f"{next(iter(failures)).replace(' answered ', ' kept answering ', 1)} (all {total} tries)"
    shown = ", ".join(f"{seen} ({count}x)" for seen, count in failures.most_common(3))
    return f"its {total} tries failed: {shown}"


class DataPathWatch:
    """The backend's own data path, tried until it first works: a document written and read back
    through its API (api_write_path, api_read_path) where API writes are allowed, else a read
    through its pooled clients (api_probe_path; a GET that accepts 404 proves less). Each failed
    try is counted by what it answered ("POST /x answered 500"), for the message."""

    def __init__(self, backend: Backend, interval_s: float, timeout_s: float) -> None:
        cfg = backend.target.profile.chaos
        self.backend, self.interval_s, self.timeout_s = backend, interval_s, timeout_s
        self.writes = api_writes_allowed(backend.target)
        self.probe = (f"POST {cfg.api_write_path} + GET {cfg.api_read_path}" if self.writes
                      else f"GET {cfg.api_probe_path}")
        self.failures: Counter[str] = Counter()
        self.at: float | None = None  # time.monotonic() of the first success
        self._lock = threading.Lock()

    def _failed(self, seen: str) -> bool:
        with self._lock:
            self.failures[seen] += 1
        return False

    def attempt(self) -> bool:
        if self.writes:
            try:
                api_roundtrip(self.backend, self.timeout_s)
            except RuntimeError as error:  # names the phase (POST or GET) and the status it got
                return self._failed(str(error))
            return True
        answer = api_probe(self.backend, self.timeout_s)
        return api_probe_ok(self.backend, answer) or self._failed(
            f"GET {self.backend.target.profile.chaos.api_probe_path} answered {answer.status or answer.error}")

    def run(self, deadline: float) -> float | None:
        target = self.backend.target
        interval, in_flight = pacing(target, target.profile.services.backend, self.interval_s, WRITES_IN_FLIGHT)
        self.at = first_success(self.attempt, interval_s=interval, deadline=deadline, stop=threading.Event(),
                                max_in_flight=in_flight)
        return self.at

    def start(self, deadline: float) -> threading.Thread:
        thread = threading.Thread(target=self.run, args=(deadline,), daemon=True)
        thread.start()
        return thread

    def evidence(self, since: float) -> dict[str, Any]:
        return {"probe": self.probe, "answered_after_s": None if self.at is None else round(self.at - since, 3),
                "failed_tries": dict(self.failures.most_common(5))}

    def problem(self, window: str, note: str = "") -> str:
        """The finding when it never worked: the phase and the status it kept answering."""
        return (f"the backend did not recover by itself: {kept_answering(self.failures)} in {window} (its data "
                f"path: {self.probe}{f'; {note}' if note else ''}; the backend was not restarted in that time)")


def describe(trial: Trial) -> str:
    return ", ".join(f"{p} {'never' if v is None else f'{v:.2f} s'}" for p, v in trial.phases.items())
