"""The chaos suite proven on one stack copy (every test puts back what it breaks):

- the whole suite passes on the reference stack, with recovery times in results.json and the
  auditor's page, and the stack is steady afterwards;
- each seeded defect under tests/defects/chaos/ names its control (the defects themselves run in
  tests/e2e/test_chaos_defects_*.py, on copies of their own: support/chaos_runs.py);
- an experiment whose steady state does not hold is ABORTED (terminal, results.json, page);
- an unknown service is refused before anything is touched;
- SIGINT and SIGTERM in the middle of each fault type leave the stack steady (nothing paused,
  disconnected, slowed or stopped); a run killed by SIGKILL mid-fault is healed by the next.

The suite runs against the copy as a live target with --allow-destructive, as on a production
host, with short outage windows and one trial ([chaos] below).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support.chaos_runs import CONTROLS, DEFECTS, DESTRUCTIVE, chaos_stack, profile_file, records_of, spec_of, unsteady
from support.stacks import REFERENCE_PROFILE, REPO, SUITES, TestStack

from stackprobe.faults import UndoRecord

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]
__all__ = ["chaos_stack"]  # the module's own copy (a module-scoped fixture)


# --- the reference passes ------------------------------------------------------------------
def test_chaos_suite_passes_on_reference(chaos_stack: TestStack, tmp_path: Path) -> None:
    run = chaos_stack.run_suite(f"{SUITES}/chaos", report_dir=tmp_path / "reports", extra=["--allow-destructive"],
                                profile=profile_file(tmp_path))
    assert run.statuses == dict.fromkeys(sorted(CONTROLS), "passed"), run.tail(6000)
    checks = run.results["controls"]["CHS-01"]["checks"]
    crashed = {c["evidence"]["recovery"]["service"]: c["evidence"]["recovery"] for c in checks}
    assert set(crashed) == {"mysql", "redis", "backend"}
    for service, recovery in crashed.items():
        trial = recovery["trials"][0]
        assert all(trial[f"{p}_s"] is not None for p in ("running", "healthy", "http_200", "first_write")), recovery
        assert all(recovery["p95_s"][p] <= recovery["slo_s"][p] for p in recovery["p95_s"]), (service, recovery)
    page = next((tmp_path / "reports").glob("*/controls.html")).read_text()
    assert "data-recovery='backend crash'" in page and "class=\"chart recovery\"" in page
    assert unsteady(chaos_stack) == []


def test_every_chaos_defect_names_its_control() -> None:
    covered = {c for d in DEFECTS for c in spec_of(d).fails}
    assert covered == CONTROLS
    for defect in DEFECTS:  # each is seeded with these, and names itself in its control's failures
        spec = spec_of(defect)
        assert spec["services"] and spec["override"] and spec["batch"] and spec.messages and spec.every_message


# --- aborted, refused ----------------------------------------------------------------------------
def test_unsteady_stack_aborts_the_experiment(chaos_stack: TestStack, tmp_path: Path) -> None:
    redis = chaos_stack.target.service("redis")
    started = redis.state()["StartedAt"]
    redis.container.pause()  # by hand: the suite must find it, and touch nothing
    try:
        run = chaos_stack.run_suite(f"{SUITES}/chaos", report_dir=tmp_path / "reports",
                                    extra=["--allow-destructive", "-k", "test_cache_down"],
                                    profile=profile_file(tmp_path, "steady_wait_s = 1.0"))
    finally:
        redis.container.unpause()
    assert run.returncode == 1, run.tail()
    assert run.statuses == {"CHS-03": "aborted"}, run.tail()
    assert "1 aborted" in run.stdout and "ABORTED CHS-03" in run.stdout, run.tail()
    assert "redis: paused" in run.stdout, run.tail()
    assert "redis: paused" in run.results["controls"]["CHS-03"]["checks"][0]["message"]
    page = next((tmp_path / "reports").glob("*/controls.html")).read_text()
    assert 'data-control="CHS-03" data-status="aborted"' in page
    assert redis.state()["StartedAt"] == started, "the aborted experiment touched redis"
    assert records_of(chaos_stack) == []


def test_unknown_service_refused_before_anything_is_touched(chaos_stack: TestStack, tmp_path: Path) -> None:
    before = {n: s.state()["StartedAt"] for n, s in chaos_stack.target.services().items()}
    run = chaos_stack.run_suite(f"{SUITES}/chaos", report_dir=tmp_path / "reports",
                                extra=["--allow-destructive", "-k", "test_crashed"],
                                profile=profile_file(tmp_path, 'crash_services = ["redis", "nosuch"]',
                                                     [*DESTRUCTIVE, "nosuch"]))
    assert run.returncode == 4, run.tail()
    assert "refusing crash of 'nosuch'" in run.stdout + run.stderr and "it is not a service of project" in (
        run.stdout + run.stderr), run.tail()
    assert "Traceback" not in run.stdout + run.stderr
    assert {n: s.state()["StartedAt"] for n, s in chaos_stack.target.services().items()} == before
    assert records_of(chaos_stack) == []


# --- interruption ----------------------------------------------------------------------------
SELECT = {  # one experiment per fault kind, and the service it breaks
    "crash": ("test_crashed_service_recovers_within_slo and redis", "redis"),
    "stop": ("test_cache_down", "redis"),
    "pause": ("test_frozen and paused", "mysql"),
    "slow": ("test_frozen and slowed", "mysql"),
    "partition": ("test_partition", "mysql"),
}


def start_child(stack: TestStack, selection: str, tmp_path: Path) -> subprocess.Popen[str]:
    # long outages: the signal lands while the fault is in place, whatever the machine's speed
    profile = profile_file(tmp_path, "outage_s = 60.0")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "STACKPROBE_"))}
    return subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"{SUITES}/chaos", "--profile", str(profile),
         *stack.suite_args(), "--allow-destructive", "-k", selection, "--report-dir=none"],
        cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_injected(stack: TestStack, kind: str, child: subprocess.Popen[str], timeout: float = 90) -> UndoRecord:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and child.poll() is None:
        for record in records_of(stack):
            if record.kind == kind and record.state == "injected" and record.owner_pid == child.pid:
                return record
        time.sleep(0.02)
    child.kill()
    raise AssertionError(f"no {kind} fault was injected: {child.communicate()[0][-3000:]}")


def finish(child: subprocess.Popen[str], timeout: float) -> str:
    """The child's output once it exits; a child that hangs is made to print its threads'
    tracebacks (pytest's faulthandler, on SIGABRT) and killed, so no later test meets it."""
    try:
        return child.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGABRT)
        try:
            output = child.communicate(timeout=20)[0]
        except subprocess.TimeoutExpired:
            child.kill()
            output = child.communicate()[0]
        raise AssertionError(f"the interrupted run did not end within {timeout:g} s: {output[-6000:]}") from None


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("kind", list(SELECT))
def test_signal_mid_fault_leaves_stack_steady(chaos_stack: TestStack, kind: str, signum: int,
                                              tmp_path: Path) -> None:
    selection, service = SELECT[kind]
    child = start_child(chaos_stack, selection, tmp_path)
    record = wait_injected(chaos_stack, kind, child)
    assert record.service == service
    time.sleep(0.2)  # in the middle of it
    child.send_signal(signum)
    output = finish(child, timeout=120)
    assert child.returncode == pytest.ExitCode.INTERRUPTED, output[-3000:]
    assert unsteady(chaos_stack) == [], output[-3000:]


def test_sigkill_mid_fault_is_healed_by_next_run(chaos_stack: TestStack, tmp_path: Path) -> None:
    child = start_child(chaos_stack, SELECT["pause"][0], tmp_path)
    record = wait_injected(chaos_stack, "pause", child)
    child.kill()  # SIGKILL: no finally runs
    child.communicate(timeout=30)
    assert chaos_stack.target.service("mysql").state()["Paused"], "the killed run should have left mysql paused"
    assert [r.id for r in records_of(chaos_stack)] == [record.id]
    run = chaos_stack.run_suite(f"{SUITES}/chaos", report_dir=tmp_path / "next",
                                extra=["-k", "test_steady_after_every_experiment"], profile=profile_file(tmp_path))
    assert f"stackprobe: healed pause of mysql ({record.container_name}) left by killed run (pid " \
           f"{record.owner_pid}" in run.stdout, run.tail()
    assert "unpaused" in run.stdout
    assert run.statuses == {"CHS-08": "passed"}, run.tail()
    assert unsteady(chaos_stack) == []


def test_sigkill_while_hlt03_has_a_dependency_stopped_is_healed_by_next_run(chaos_stack: TestStack,
                                                                            tmp_path: Path) -> None:
    """HLT-03/04's outages go through the run's fault injector: a live run killed outright while
    a dependency is stopped leaves an undo record, and the next run starts the dependency again
    before anything else and says so. Health names no outage of `vector_store` while Redis is
    down, so the outage lasts its whole 60 s window and the kill lands inside it."""
    profile = tmp_path / "outage.toml"
    profile.write_text(REFERENCE_PROFILE.read_text() + '\n[health]\noutage_window_s = 60.0\n'
                       'dependency_services = {vector_store = "redis", database = "mysql"}\n'
                       '\n[safety]\ndestructive_services = ["redis", "mysql"]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "STACKPROBE_"))}
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"{SUITES}/smoke", "--profile", str(profile),
         *chaos_stack.suite_args(), "--allow-destructive", "-k", "test_health_fails_when_dependency_down",
         "--report-dir=none"], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    record = wait_injected(chaos_stack, "stop", child)
    assert record.service == "redis"
    child.kill()  # SIGKILL: no finally runs
    child.communicate(timeout=30)
    assert not chaos_stack.target.service("redis").state()["Running"], "the killed run should have left redis stopped"
    run = chaos_stack.run_suite(f"{SUITES}/smoke", report_dir=tmp_path / "next", profile=profile,
                                extra=["-k", "test_restart_policy_on_long_running_services"])
    healed = (f"stackprobe: healed stop of redis ({record.container_name}) left by killed run "
              f"(pid {record.owner_pid}")
    assert healed in run.stdout, run.tail()
    assert run.stdout.index(healed) < run.stdout.index("PASSED" if "PASSED" in run.stdout else "passed"), run.tail()
    assert run.statuses == {"CTR-03": "passed"}, run.tail()
    assert records_of(chaos_stack) == []
    assert chaos_stack.target.service("redis").state()["Running"]
    deadline = time.monotonic() + 120
    while unsteady(chaos_stack) and time.monotonic() < deadline:  # redis healthy again for the next tests
        time.sleep(1)
    assert unsteady(chaos_stack) == []
