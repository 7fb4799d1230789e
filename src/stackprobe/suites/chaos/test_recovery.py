"""CHS-01: each service, crashed (SIGKILL of its main process from the host), comes back running
and healthy within its SLO; every phase timed, p50/p95 over [chaos] trials. After a dependency's
crash, the backend's own data path (DataPathWatch: a write read back through its API where
allowed) must work again within dependency_recovery_s of the dependency being healthy."""

from __future__ import annotations

import time

import pytest

from stackprobe.chaos.probes import write_probe
from stackprobe.chaos.recovery import (
    DataPathWatch,
    RecoveryWatch,
    Trial,
    describe,
    judge,
    recovery_evidence,
    slo_of,
    watch_timeout,
)
from stackprobe.evidence import Evidence
from stackprobe.suites.chaos.conftest import RECOVERY, ChaosRun

# experiments may leave the stack changed: in a parallel run, a copy of their own (one per group)
pytestmark = pytest.mark.isolated(RECOVERY)


@pytest.mark.control("CHS-01")
@pytest.mark.destructive
@pytest.mark.slow
@pytest.mark.writes("{database}: canary table; {cache}: canary keys; {backend}: canary documents", on="ephemeral")
@pytest.mark.writes("{database}: canary table; {cache}: canary keys", on="live")
def test_crashed_service_recovers_within_slo(crash_service: str, experiment: ChaosRun, evidence: Evidence) -> None:
    chaos, target, service = experiment, experiment.target, crash_service
    cfg = chaos.cfg
    slo = slo_of(target, service)
    trials: list[Trial] = []
    details = []
    path_problems: list[str] = []
    for number in range(1, cfg.trials + 1):
        if number > 1:
            between = chaos.steady.wait(cfg.steady_wait_s)
            if not between.holds:  # the previous trial's undo waited for it already
                details.append({"trial": number, "not run": f"steady state did not hold: {between.reason()}"})
                break
        path: DataPathWatch | None = None
        with chaos.injector.crashed(service) as fault:
            trial = RecoveryWatch(
                target, service, since=fault.injected_at, since_wall=fault.injected_wall, old_pid=fault.old_pid,
                crashed_wall=fault.issued_wall,
                interval_s=cfg.poll_interval_s, timeout_s=watch_timeout(target, slo),
                write=write_probe(target, service, chaos.canary, chaos.backend), backend=chaos.backend).run()
            if service != target.profile.services.backend and trial.phases["healthy"] is not None:
                # a dependency back is half of it: the backend's own data path must work again too
                path = DataPathWatch(chaos.backend, cfg.poll_interval_s, cfg.degraded_latency_s)
                back = time.monotonic()
                if path.run(deadline=back + cfg.dependency_recovery_s) is None:
                    chaos.data_path_broken = True  # the experiment's fixture restarts the backend after it
                    path_problems.append(f"trial {number}: " + path.problem(
                        f"the {cfg.dependency_recovery_s:g} s after {service} was healthy again"))
        trial.notes.append(f"undo: {fault.undo_note}")
        trials.append(trial)
        details.append({"trial": number, "injected_at": round(fault.injected_wall, 3), "old_pid": trial.old_pid,
                        "new_pid": trial.new_pid, "phases": describe(trial), "notes": trial.notes,
                        "steady_after_undo": getattr(fault.healed, "holds", None),
                        **({"backend_data_path": path.evidence(since=back)} if path else {})})
    recovery = recovery_evidence("crash", service, slo, trials)
    evidence.record("recovery", recovery)
    evidence.record("trials_detail", details)
    problems = judge(recovery, trials) + path_problems
    if len(trials) < cfg.trials:
        problems.append(f"only {len(trials)} of {cfg.trials} trials ran: {details[-1].get('not run')}")
    assert not problems, (f"{service} crashed (SIGKILL of its main process from the host) did not recover within "
                          f"its SLO: " + "; ".join(problems))
