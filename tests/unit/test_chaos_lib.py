"""The chaos library without Docker: undo records, refusals, percentiles and SLO judgement,
Jepsen-style accounting, error windows, signal deferral, the [chaos] profile section, and
healing a killed run's record (against a fake engine)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from docker.errors import APIError

from stackprobe.chaos.history import Op, account, windows
from stackprobe.chaos.probes import HttpAnswer
from stackprobe.chaos.recovery import DataPathWatch, Trial, judge, kept_answering, recovery_evidence
from stackprobe.errors import StackprobeUsageError
from stackprobe.faults import FaultGuard, RecordStore, UndoRecord, deferred_signals, heal_orphans, parse_fault_spec
from stackprobe.faults.kinds import Pause, netem_arguments, tbf_arguments
from stackprobe.owners import process_start
from stackprobe.profile import PhaseSlo, load_profile


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def record(kind: str = "pause", **kw: Any) -> UndoRecord:
    return UndoRecord(kind, kw.pop("service", "mysql"), "proj", "this host", "cid123", "proj-mysql",
                      kw.pop("details", {}), **kw)


# --- undo records ----------------------------------------------------------------------------
def test_record_written_before_and_removed_after(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, "this host", "proj")
    mine = record()
    path = store.write(mine)
    assert json.loads(path.read_text())["kind"] == "pause"
    assert [r.id for r in store.records()] == [mine.id]
    assert store.orphaned() == [] and store.foreign_active() == []  # ours, and we are alive
    store.remove(mine)
    assert store.records() == [] and not store.directory.exists()


def test_record_of_dead_run_is_orphaned_and_pid_reuse_is_seen(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, "ssh://deploy@prod:22", "proj")
    gone = record(owner_pid=dead_pid(), owner_started="123")
    reused = record(owner_pid=os.getppid(), owner_started="1")  # a live pid, but another process's start time
    alive = record(owner_pid=os.getppid(), owner_started=process_start(os.getppid()))
    other_runner = record(owner_pid=dead_pid(), runner="ffffff")  # whose processes we cannot see
    for r in (gone, reused, alive, other_runner):
        store.write(r)
    assert {r.id for r in store.orphaned()} == {gone.id, reused.id}
    assert {r.id for r in store.foreign_active()} == {alive.id, other_runner.id}
    store.forget()
    assert store.records() == []


def test_unreadable_record_is_reported_not_guessed(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, "this host", "proj")
    store.directory.mkdir(parents=True)
    (store.directory / "broken.json").write_text("{not json")
    assert store.records() == []
    assert store.unreadable() == [store.directory / "broken.json"]


class FakeContainer:
    def __init__(self, paused: bool) -> None:
        self.attrs = {"State": {"Paused": paused, "Running": True, "Pid": 42}, "HostConfig": {},
                      "NetworkSettings": {"Networks": {}}}
        self.calls: list[str] = []

    def reload(self) -> None:
        pass

    def unpause(self) -> None:
        self.calls.append("unpause")
        self.attrs["State"]["Paused"] = False


class FakeTarget:
    label = "this host"

    def __init__(self, container: FakeContainer) -> None:
        self.docker = type("D", (), {"containers": type("C", (), {"get": staticmethod(lambda cid: container)})()})()


def test_heal_orphans_undoes_and_says_so(tmp_path: Path) -> None:
    store = RecordStore(tmp_path, "this host", "proj")
    left = record(owner_pid=dead_pid())
    store.write(left)
    container = FakeContainer(paused=True)
    lines = heal_orphans(FakeTarget(container), store)  # type: ignore[arg-type]
    assert container.calls == ["unpause"]
    assert len(lines) == 1 and lines[0].startswith("stackprobe: healed pause of mysql (proj-mysql) left by killed run")
    assert lines[0].endswith(": unpaused")
    assert store.records() == []
    assert heal_orphans(FakeTarget(container), store) == []  # idempotent: nothing left  # type: ignore[arg-type]


# --- refusals --------------------------------------------------------------------------------
def test_guard_refusals() -> None:
    known = {"mysql", "redis", "backend"}
    ephemeral = FaultGuard("ephemeral", "spx1", False, ())
    assert ephemeral.refusal("crash", "mysql", known) is None
    assert "not a service of project 'spx1'" in (ephemeral.refusal("crash", "nosuch", known) or "")
    live = FaultGuard("live", "prod", False, ("redis",), "ssh://deploy@prod:22", "prod.toml")
    assert "need --allow-destructive" in (live.refusal("pause", "redis", known) or "")
    allowed = FaultGuard("live", "prod", True, ("redis",), "this host", "prod.toml")
    assert allowed.refusal("pause", "redis", known) is None
    message = allowed.refusal("crash", "mysql", known) or ""
    assert "not in [safety] destructive_services of profile prod.toml (allowed: redis)" in message
    assert "\n" not in message


class _OneServiceTarget:
    """Enough of a target for Injector: a project with one service whose operations are counted."""

    kind, project, label = "ephemeral", "spx1", "this host"

    def __init__(self) -> None:
        self.touched: list[str] = []

    def services(self) -> dict[str, Any]:
        target = self

        class _Service:
            container_name = "spx1-redis"

            def inspect(self) -> dict[str, Any]:
                target.touched.append("inspect")
                return {}

        return {"redis": _Service()}


def test_second_fault_in_the_same_run_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    from stackprobe.faults.inject import _ACTIVE, Fault, Injector

    target = _OneServiceTarget()
    injector = Injector(target, FaultGuard("ephemeral", "spx1", False, ()),  # type: ignore[arg-type]
                        RecordStore(tmp_path, "this host", "spx1"))
    busy = Fault("pause", "mysql", UndoRecord("pause", "mysql", "spx1", "this host", "c1", "spx1-mysql", {}),
                 injector)
    _ACTIVE.append(busy)
    try:
        with pytest.raises(StackprobeUsageError, match=r"refusing crash of 'redis': pause of 'mysql' is in place "
                                                       r"\(faults run one at a time\)"), injector.crashed("redis"):
            pass
    finally:
        _ACTIVE.remove(busy)
    assert target.touched == [] and RecordStore(tmp_path, "this host", "spx1").records() == []


def test_fault_spec_parsing() -> None:
    assert parse_fault_spec("crash:mysql, redis") == ("crash", ["mysql", "redis"])
    assert parse_fault_spec("stop:(none)") == ("stop", [])


# --- recovery: percentiles and SLOs ----------------------------------------------------------
def trial(**phases: float | None) -> Trial:
    t = Trial()
    t.phases.update(phases)
    return t


def test_recovery_evidence_percentiles_and_judgement() -> None:
    slo = PhaseSlo(running_s=1.0, healthy_s=10.0, http_200_s=5.0, first_write_s=5.0)
    trials = [trial(running=0.2, healthy=h, http_200=h - 1, first_write=h - 0.5) for h in (3.0, 4.0, 9.0, 12.0)]
    evidence = recovery_evidence("crash", "backend", slo, trials)
    assert evidence["slo_s"] == {"running": 1.0, "healthy": 10.0, "http_200": 5.0, "first_write": 5.0}
    assert evidence["trials"][0] == {"running_s": 0.2, "healthy_s": 3.0, "http_200_s": 2.0, "first_write_s": 2.5}
    assert evidence["p50_s"]["healthy"] == 4.0  # nearest rank: the 2nd of 4
    assert evidence["p95_s"]["healthy"] == 12.0  # nearest rank: the 4th of 4
    problems = judge(evidence, trials)
    assert any("backend healthy: p95 12.00 s is over its SLO of 10 s" in p for p in problems)
    assert any("backend http_200: p95 11.00 s is over its SLO of 5 s" in p for p in problems)
    assert not any("running" in p for p in problems)


def test_phase_never_reached_and_restart_policy_no() -> None:
    slo = PhaseSlo()
    missing = trial(running=0.3, healthy=None, http_200=1.0, first_write=1.0)
    never = trial()
    never.never = "redis exited (exited, exit code 137) and its restart policy is 'no': Docker will not restart it"
    problems = judge(recovery_evidence("crash", "redis", slo, [missing, never]), [missing, never])
    assert "trial 1: redis healthy not reached within the watch (90 s SLO)" in problems
    assert any(p.startswith("trial 2: redis exited") for p in problems)
    assert not any("trial 2: redis healthy not reached" in p for p in problems)  # said once, by its cause


# --- Jepsen-style accounting -------------------------------------------------------------------
def op(seq: int, outcome: str, value: str = "", ended: float = 0.0) -> Op:
    return Op(seq, value or f"v{seq}", ended, ended, outcome)


def test_accounting_lost_duplicated_unexpected_indeterminate() -> None:
    ops = [op(1, "ok"), op(2, "ok"), op(3, "ok"), op(4, "fail"), op(5, "info"), op(6, "info"), op(7, "ok")]
    observed = {1: ["v1"], 2: ["v2", "v2"], 3: ["other"], 4: ["v4"], 5: ["v5"], 9: ["v9"]}
    result = account(ops, observed)
    assert (result.attempted, result.acknowledged, result.failed, result.indeterminate) == (7, 4, 1, 2)
    assert result.lost == [3, 7]  # a wrong value is as lost as a missing one
    assert result.duplicated == [2]
    assert result.unexpected == [4, 9]  # definitely failed yet present; never attempted
    assert (result.indeterminate_present, result.indeterminate_absent) == (1, 1)
    assert not result.ok
    assert account([op(1, "ok"), op(2, "info")], {1: ["v1"]}).ok


def test_error_window_against_outage_window() -> None:
    ops = [op(1, "ok", ended=9.0), op(2, "info", ended=10.2), op(3, "info", ended=12.5), op(4, "ok", ended=13.0),
           op(5, "info", ended=14.8), op(6, "info", ended=9.5)]
    window = windows(ops, fault_at=10.0, recovered_at=13.0, grace_s=1.0)
    assert window["outage_window_s"] == [0.0, 3.0]
    assert window["error_window_s"] == [-0.5, 4.8]
    assert window["errors"] == 4 and window["errors_outside"] == 2  # one before the crash, one after + grace
    assert [e["at_s"] for e in window["errors_outside_sample"]] == [-0.5, 4.8]
    # sent during the outage, timed out after it: the outage's; sent after the window: a violation
    hung = Op(7, "v7", 12.0, 17.0, "info", "ReadTimeout")
    late = Op(8, "v8", 14.5, 14.6, "info", "500")
    window = windows([*ops, hung, late], fault_at=10.0, recovered_at=13.0, grace_s=1.0)
    assert window["errors"] == 6 and window["errors_outside"] == 3
    assert [e["at_s"] for e in window["errors_outside_sample"]] == [-0.5, 4.6, 4.8]


# --- slowed: the tc arguments ------------------------------------------------------------------
def test_slow_mechanisms() -> None:
    assert netem_arguments(0.25) == ["netem", "delay", "250ms"]
    tbf = tbf_arguments(3.0)
    assert tbf[:3] == ["tbf", "rate", "267bit"] and "burst" in tbf  # 100 bytes take about 3 s


# --- signals wait for the undo -------------------------------------------------------------------
def test_signals_deferred_until_the_undo_is_done() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt, match="held back until the fault was undone"), deferred_signals():
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)
        done.append("undone")
    assert done == ["undone"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# --- the [chaos] profile section ---------------------------------------------------------------
def test_chaos_profile_defaults_and_errors(tmp_path: Path) -> None:
    profile = load_profile(Path(__file__).parents[2] / "profiles" / "reference.toml")
    assert profile.chaos.poll_interval_s <= 0.1 and profile.chaos.trials >= 1
    assert set(profile.chaos.slo) == {"mysql", "redis", "backend"}
    path = tmp_path / "p.toml"
    path.write_text("[chaos.slo.backend]\nhealthy_s = 20\n[chaos]\ntrials = 5\n")
    custom = load_profile(path)
    assert custom.chaos.slo == {"backend": PhaseSlo(healthy_s=20.0)} and custom.chaos.trials == 5
    for text, expected in (
        ("[chaos]\npoll_interval_s = 0.5\n", "at most 0.1"),
        ("[chaos.slo.backend]\nhealty_s = 3\n", "did you mean chaos.slo.backend.'healthy_s'"),
        ("[chaos]\nfreeze_dependencies = [\"vector_store\"]\n", "does not map"),
        ("[chaos]\ntrails = 2\n", "did you mean chaos.'trials'"),
    ):
        path.write_text(text)
        with pytest.raises(StackprobeUsageError, match=expected.replace("(", r"\(").replace(".", r"\.")):
            load_profile(path)


def test_production_example_documents_every_chaos_key() -> None:
    from dataclasses import fields

    from stackprobe.profile import ChaosSection, Profile

    example = Path(__file__).parents[2] / "profiles" / "production.example.toml"
    assert load_profile(example).chaos == Profile().chaos  # documented values are the defaults
    text = example.read_text()
    tables = {"slo": "[chaos.slo.", "default_slo": "[chaos.default_slo]"}
    missing = [f.name for f in fields(ChaosSection) if (tables.get(f.name) or f"\n{f.name} = ") not in text]
    assert not missing, f"[chaos] keys not documented in {example.name}: {missing}"


def test_lost_writes_split_by_the_fsync_window() -> None:
    from stackprobe.chaos.history import split_lost

    ops = [op(1, "ok", ended=1.0), op(2, "ok", ended=8.5), op(3, "ok", ended=9.9), op(4, "ok", ended=10.5)]
    recent, older = split_lost(ops, [1, 2, 3, 4], crash_at=10.0, window_s=2.0)
    assert recent == [2, 3, 4] and older == [1]  # everysec may lose the last 2 s, never older writes
    assert split_lost(ops, [3], crash_at=10.0, window_s=0.0) == ([], [3])


# --- watching health during an outage (library, no Docker) ----------------------------------
class _Health:
    """A backend whose health answers 200 for the first `healthy_for` requests, then 503 naming
    the dependency (or, with `names` false, 503 with the dependency still reported healthy)."""

    def __init__(self, healthy_for: int, names: bool = True) -> None:
        self.calls, self.healthy_for, self.names = 0, healthy_for, names
        self.target = SimpleNamespace(relayed=lambda service: False)  # its port is published

    def health(self, timeout: float) -> object:
        from stackprobe.chaos.probes import HttpAnswer

        self.calls += 1
        now = time.monotonic()
        status, state = (200, "healthy") if self.calls <= self.healthy_for else (
            503, "unhealthy" if self.names else "healthy")
        body = {"status": state, "services": {"database": state}}
        return HttpAnswer(status, body, now, now + 0.001, text=json.dumps(body), content_type="application/json")


def _chaos_profile() -> Any:
    from stackprobe.profile import ChaosSection, Profile

    return Profile(chaos=ChaosSection(poll_interval_s=0.02, degraded_latency_s=0.5, outage_s=0.4))


def test_observe_health_finds_the_reflection_and_outage_problems_pass() -> None:
    from stackprobe.chaos.health_watch import observe_health, outage_problems

    profile = _chaos_profile()
    seen = observe_health(_Health(healthy_for=3), profile, "database", "db", time.monotonic(),  # type: ignore[arg-type]
                          0.4)
    assert seen.reflected_after_s is not None and seen.answers and seen.slow == 0
    assert outage_problems(profile, seen, must_reflect=True) == []


def test_health_that_never_names_the_dependency_is_a_problem() -> None:
    from stackprobe.chaos.health_watch import observe_health, outage_problems

    profile = _chaos_profile()
    seen = observe_health(_Health(healthy_for=0, names=False), profile, "database", "db",  # type: ignore[arg-type]
                          time.monotonic(), 0.3)
    assert seen.reflected_after_s is None
    (problem,) = outage_problems(profile, seen, must_reflect=True)
    assert problem.startswith("health never reported database (db) down during the whole outage"), problem
    assert "statuses {'503':" in problem


def test_a_data_path_that_never_recovers_is_named_by_phase_and_the_status_it_kept_answering() -> None:
    assert kept_answering(Counter({"POST /api/v1/documents answered 500": 37})) == (
        "POST /api/v1/documents kept answering 500 (all 37 tries)")
    mixed = kept_answering(Counter({"GET /api/v1/documents/{id} answered 500": 3,
                                    "POST /api/v1/documents answered 0 (ReadTimeout: timed out)": 9}))
    assert mixed.startswith("its 12 tries failed: POST /api/v1/documents answered 0 (ReadTimeout: timed out) (9x)")
    assert "GET /api/v1/documents/{id} answered 500 (3x)" in mixed
    assert kept_answering(Counter()) == "no try of its data path answered in time"


class _Backend:
    """A backend answering POST/GET from a script (status per call), for DataPathWatch."""

    def __init__(self, statuses: list[int], writes: bool = True) -> None:
        self.statuses = statuses
        self.target = SimpleNamespace(kind="ephemeral" if writes else "live", relayed=lambda service: False,
                                      profile=load_profile(Path(__file__).parents[2] / "profiles" / "reference.toml"))
        self.ids = 0

    def request(self, method: str, path: str, timeout: float, json: Any = None) -> HttpAnswer:
        status = self.statuses.pop(0) if self.statuses else 200
        now = time.monotonic()
        if method == "POST":
            self.ids += 1
            self.marker = json["content"] if json and "content" in json else str(json)
            return HttpAnswer(status, {"id": self.ids}, now, now)
        return HttpAnswer(status, {"content": getattr(self, "marker", "")}, now, now)


def test_data_path_watch_counts_what_each_try_answered() -> None:
    never = DataPathWatch(_Backend([500] * 1000), interval_s=0.01, timeout_s=1)  # type: ignore[arg-type]
    assert never.run(deadline=time.monotonic() + 0.3) is None
    assert never.probe == "POST /api/v1/documents + GET /api/v1/documents/{id}"
    problem = never.problem("the 10 s after mysql was back", "health dependency database")
    assert problem.startswith("the backend did not recover by itself: POST /api/v1/documents kept answering 500 "
                              "(all ")
    assert "in the 10 s after mysql was back (its data path: POST /api/v1/documents + GET " in problem
    # back after two failures: the first success is the recovery
    back = DataPathWatch(_Backend([500, 503]), interval_s=0.01, timeout_s=1)  # type: ignore[arg-type]
    assert back.run(deadline=time.monotonic() + 5) is not None
    assert sum(back.failures.values()) >= 2


class FreezingContainer:
    """A container whose cgroup freezer gives up `refusals` times (a busy host), then pauses."""

    def __init__(self, refusals: int, error: str = "OCI runtime pause failed: unable to freeze: unknown") -> None:
        self.refusals, self.error, self.calls = refusals, error, 0

    def pause(self) -> None:
        self.calls += 1
        if self.calls <= self.refusals:
            raise APIError(f"500 Server Error: Cannot pause container abc: {self.error}")


@pytest.mark.parametrize(("refusals", "error", "paused_after"), [
    (0, "", 1), (2, "OCI runtime pause failed: unable to freeze: unknown", 3),
])
def test_pause_tries_again_when_the_freezer_gives_up(refusals: int, error: str, paused_after: int) -> None:
    container = FreezingContainer(refusals, error)
    details = Pause().inject(None, SimpleNamespace(container=container), record(), [])  # type: ignore[arg-type]
    assert details == {"via": "docker pause", "attempts": paused_after} and container.calls == paused_after


@pytest.mark.parametrize(("refusals", "error", "calls"), [
    (3, "OCI runtime pause failed: unable to freeze: unknown", 3),  # it never gives in: the error stands
    (1, "container is not running", 1),  # any other refusal is not retried
])
def test_pause_gives_up_after_its_attempts_or_on_another_error(refusals: int, error: str, calls: int) -> None:
    container = FreezingContainer(refusals, error)
    with pytest.raises(APIError, match=error):
        Pause().inject(None, SimpleNamespace(container=container), record(), [])  # type: ignore[arg-type]
    assert container.calls == calls


# --- HLT-03/04: an outage only against a healthy baseline (library, real sockets) ------------
@pytest.mark.parametrize(("answer", "expected"), [
    ((200, '{"status": "healthy", "services": {}}'), ""),
    ((503, '{"status": "degraded", "services": {}}'), "it answered 503 (status 'degraded') for 0.3 s"),
    (None, "nothing answered for 0.3 s"),
])
def test_no_outage_is_started_unless_health_is_healthy_first(answer: tuple[int, str] | None, expected: str) -> None:
    import socket
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import httpx

    from stackprobe.chaos.outage import not_healthy_before
    from stackprobe.profile import Profile

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            assert answer is not None
            self.send_response(answer[0])
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(answer[1].encode())

        def log_message(self, *args: object) -> None:
            pass

    if answer is None:
        with socket.socket() as closed:
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
    else:
        server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        port = server.server_address[1]
    url = f"http://127.0.0.1:{port}/health"
    with httpx.Client() as client:
        target = SimpleNamespace(http=lambda: client, health_url=url, profile=Profile())
        problem = not_healthy_before(target, 0.3)  # type: ignore[arg-type]
    if answer is not None:
        server.shutdown()
    if not expected:
        assert problem == ""
        return
    start = f"health at {url} was not healthy before any outage ({expected}; expected JSON: "
    assert problem.startswith(start), problem
    assert "no dependency was stopped" in problem and "\n" not in problem


def test_a_poller_keeps_sending_while_earlier_answers_hang() -> None:
    """Right after a dependency is back, answers to the first requests can hang for up to their
    timeout: a poller that stops sending at its in-flight bound sees the first 200 (here
    answered from 0.3 s on) only when the hanging ones end, a timeout later."""
    import threading

    from stackprobe.chaos.recovery import first_success, polls_in_flight

    interval, timeout = 0.05, 1.0

    def first_200_after(max_in_flight: int) -> float:
        began = time.monotonic()

        def probe() -> bool:
            if time.monotonic() - began < 0.3:  # sent before the recovery: hangs out its timeout
                time.sleep(timeout)
                return False
            return True

        at = first_success(probe, interval_s=interval, deadline=began + 5, stop=threading.Event(),
                           max_in_flight=max_in_flight)
        assert at is not None
        return at - began

    assert polls_in_flight(timeout, interval) == 21
    assert (polls_in_flight(2.0, 0.01), polls_in_flight(0.05, 0.1)) == (32, 1)
    assert first_200_after(polls_in_flight(timeout, interval)) < 0.3 + 0.25
    assert first_200_after(4) >= timeout - 0.05  # a bound of 4: every slot hung, nothing was sent


def test_pollers_go_slower_through_an_exec_relay() -> None:
    """Through a relay each request is a Docker exec and a process in the container: polling it
    at the direct rate competes with the restart being timed (seen: an app's restart timed at
    85 s instead of about 1 s). Only the relayed service's pollers slow down."""
    from stackprobe.chaos.recovery import RELAYED_IN_FLIGHT, RELAYED_INTERVAL_S, pacing

    target = SimpleNamespace(relayed=lambda service: service == "app")
    assert pacing(target, "db", 0.05, 21) == (0.05, 21)  # type: ignore[arg-type]
    assert pacing(target, "app", 0.05, 21) == (RELAYED_INTERVAL_S, RELAYED_IN_FLIGHT)  # type: ignore[arg-type]
    assert pacing(target, "app", 1.0, 2) == (1.0, 2)  # type: ignore[arg-type]  # never faster than asked


def test_pollers_time_at_a_raised_priority_where_the_host_allows(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a loaded host a poller that waits for a CPU records its answer late: the pollers' own
    threads run at nice TIMING_NICE where allowed (root or CAP_SYS_NICE), the caller's thread and
    the process stay as they were; where refused, polling goes on and the trial says why."""
    import threading

    from stackprobe.chaos.recovery import PRIORITY_REFUSED, TIMING_NICE, first_success, raise_timing_priority

    def nice() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    before, seen = nice(), []
    first_success(lambda: seen.append(nice()) is None, interval_s=0.01, deadline=time.monotonic() + 5,
                  stop=threading.Event(), max_in_flight=2)
    assert nice() == before and os.getpriority(os.PRIO_PROCESS, 0) == before
    allowed = os.geteuid() == 0
    assert seen[0] == (min(before, TIMING_NICE) if allowed else before), (allowed, seen)

    def refused(*_: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "setpriority", refused)
    assert raise_timing_priority() is False
    assert first_success(lambda: True, interval_s=0.01, deadline=time.monotonic() + 5, stop=threading.Event()) \
        is not None
    assert "CAP_SYS_NICE" in PRIORITY_REFUSED and "late" in PRIORITY_REFUSED


def test_a_fault_counts_from_before_it_was_sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """CHS-07's outage window starts when the fault was issued: on a loaded host a load thread
    can see the connection a kill reset before the injector's thread reads the clock after it
    (seen: one error at -0.0 s beside a parallel gate, outside a window that began after the kill)."""
    from stackprobe.faults import inject

    sent: list[float] = []

    def slow_kill(*_: Any) -> dict[str, Any]:
        sent.append(time.monotonic())
        time.sleep(0.05)  # the injector's thread waits for a CPU after its kill
        return {}

    monkeypatch.setattr(inject, "_inject", slow_kill)
    monkeypatch.setattr(inject, "_before", lambda kind, attrs: {})
    monkeypatch.setattr(inject, "undo_record", lambda *_: "")
    target = _OneServiceTarget()
    service = target.services()["redis"]
    monkeypatch.setattr(target, "services", lambda: {"redis": service})
    monkeypatch.setattr(service, "inspect", lambda: {"Id": "c1"})
    injector = inject.Injector(target, FaultGuard("ephemeral", "spx1", False, ()),  # type: ignore[arg-type]
                               RecordStore(tmp_path, "this host", "spx1"))
    with injector.crashed("redis") as fault:
        pass
    assert fault.issued_at <= sent[0] < sent[0] + 0.05 <= fault.injected_at
    reset_by_the_kill = Op(1, "v1", sent[0] - 0.2, sent[0] + 0.01, "info", "ReadError: Connection reset by peer")
    window = windows([reset_by_the_kill], fault.issued_at, fault.injected_at + 1.0, grace_s=1.0)
    assert window["errors_outside"] == 0
    assert windows([reset_by_the_kill], fault.injected_at, fault.injected_at + 1.0, grace_s=1.0)["errors_outside"] == 1


class _Events(list[dict[str, Any]]):
    def close(self) -> None:
        pass


def _engine_target(remote: bool, events: list[dict[str, Any]]) -> Any:
    container = SimpleNamespace(id="c1")
    api = SimpleNamespace(events=lambda **_: _Events(events))
    return SimpleNamespace(host=SimpleNamespace(remote=remote), docker=SimpleNamespace(api=api),
                           service=lambda name: SimpleNamespace(container=container))


def test_a_restart_is_timed_by_the_engines_own_events_where_its_clock_is_ours() -> None:
    """A poll of the engine sees a restart late by its interval plus the engine's answer time;
    the engine's `start` and `health_status: healthy` events carry the moment itself. Events
    from before the crash are an earlier trial's; over SSH the engine's clock is another host's."""
    from stackprobe.chaos.recovery import RecoveryWatch

    crashed = 1_000_000.0

    def event(status: str, after_s: float) -> dict[str, Any]:
        return {"status": status, "timeNano": int((crashed + after_s) * 1e9)}

    events = [event("health_status: healthy", -3.0), event("start", -5.0), event("die", 0.02),
              event("start", 0.4), event("health_status: healthy", 2.5)]

    def watched(remote: bool) -> dict[str, float | None]:
        watch = RecoveryWatch(_engine_target(remote, events), "redis", since=50.0, since_wall=crashed + 0.05,
                              old_pid=7, interval_s=0.05, timeout_s=5, write=None, backend=None,  # type: ignore[arg-type]
                              crashed_wall=crashed)
        watch._mark("running", 50.0 + 0.5)  # a poll saw it later: the earlier moment stands
        watch._read_engine_events(deadline=time.monotonic() + 5)
        assert watch._running.is_set() is not remote
        return watch.trial.phases

    local = watched(remote=False)
    assert local["running"] == pytest.approx(0.35) and local["healthy"] == pytest.approx(2.45)
    remote = watched(remote=True)
    assert remote["running"] == pytest.approx(0.5) and remote["healthy"] is None
