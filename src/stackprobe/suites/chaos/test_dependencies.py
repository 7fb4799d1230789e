"""CHS-02/03 (a dependency stopped), CHS-05 (frozen: paused, then slowed), CHS-06 (partitioned):
health answers promptly while the dependency is out, and the backend recovers by itself once it
is back: health 200 and, through the backend's own API, a write read back (POST api_write_path,
GET api_read_path) where API writes are allowed (ephemeral targets; live ones with
api_write_on_live), else a read through its pooled clients (the API probe)."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from stackprobe.chaos.health_watch import dependency_of, observe_health, outage_problems
from stackprobe.chaos.probes import write_probe
from stackprobe.chaos.recovery import DataPathWatch, RecoveryWatch, judge, recovery_evidence, slo_of
from stackprobe.evidence import Evidence
from stackprobe.faults import Fault, qdiscs_left
from stackprobe.suites.chaos.conftest import FAULTS, ChaosRun

# experiments may leave the stack changed: in a parallel run, a copy of their own (one per group)
pytestmark = pytest.mark.isolated(FAULTS)

WRITES_EPHEMERAL = "{database}: canary table; {cache}: canary keys"


def _backend_identity(chaos: ChaosRun) -> dict[str, Any]:
    attrs = chaos.target.service(chaos.target.profile.services.backend).inspect()
    return {"started_at": attrs["State"].get("StartedAt"), "restart_count": attrs.get("RestartCount", 0)}


def _recovery_after_undo(chaos: ChaosRun, fault: Fault, service: str, dependency: str, evidence: Evidence) -> list[str]:
    """From the undo: the dependency's recovery phases and, at the same time, the backend's own
    data path (DataPathWatch) working again within dependency_recovery_s."""
    target, cfg = chaos.target, chaos.cfg
    assert fault.restored_at is not None and fault.restored_wall is not None
    slo = slo_of(target, service)
    path = DataPathWatch(chaos.backend, cfg.poll_interval_s, cfg.degraded_latency_s)
    api = path.start(deadline=fault.restored_at + cfg.dependency_recovery_s)
    trial = RecoveryWatch(target, service, since=fault.restored_at, since_wall=fault.restored_wall, old_pid=None,
                          interval_s=cfg.poll_interval_s, timeout_s=cfg.dependency_recovery_s,
                          write=write_probe(target, service, chaos.canary, chaos.backend),
                          backend=chaos.backend).run()
    api.join(timeout=cfg.dependency_recovery_s + cfg.degraded_latency_s + 2)
    recovery = recovery_evidence(fault.kind, service, slo, [trial])
    evidence.record("recovery", recovery)
    evidence.record("backend_api_probe", path.evidence(since=fault.restored_at))
    problems = judge(recovery, [trial])
    if path.at is None:
        chaos.data_path_broken = True  # the experiment's fixture restarts the backend after it
        problems.append(path.problem(f"the {cfg.dependency_recovery_s:g} s after {service} was back",
                                     f"health dependency {dependency}"))
    return problems


def _probe_needs_database(chaos: ChaosRun, service: str, state: str, evidence: Evidence) -> list[str]:
    """While the database is out, the read probe (the data path where API writes are not allowed)
    must fail: one that still answers as usual does not read the database, and its recovery
    afterwards would show nothing."""
    if service != chaos.target.profile.services.database:
        return []
    path = DataPathWatch(chaos.backend, chaos.cfg.poll_interval_s, chaos.cfg.degraded_latency_s)
    if path.writes:
        return []
    worked = path.attempt()
    evidence.record("probe_while_out", {"probe": path.probe, "answered_as_usual": worked,
                                        "failed_as": dict(path.failures)})
    if not worked:
        return []
    cfg = chaos.cfg
    return [f"its data path {path.probe} answered as usual (one of {cfg.api_probe_ok}) while {service} was "
            f"{state}: it does not read the database, so its recovery shows nothing; set [chaos] api_probe_path "
            "to a read the database serves"]


def _dependency_down(chaos: ChaosRun, service: str, evidence: Evidence) -> None:
    target, cfg = chaos.target, chaos.cfg
    dependency = dependency_of(target.profile, service)
    assert dependency, f"[health] dependency_services maps no health dependency to {service!r}"
    backend_before = _backend_identity(chaos)
    with chaos.injector.stopped(service) as fault:
        seen = observe_health(chaos.backend, chaos.target.profile, dependency, service, fault.injected_at, cfg.outage_s)
        problems = _probe_needs_database(chaos, service, "stopped", evidence)
        fault.restore()
        problems += outage_problems(chaos.target.profile, seen, must_reflect=True)
        problems += _recovery_after_undo(chaos, fault, service, dependency, evidence)
    evidence.record("outage", seen.summary())
    evidence.record("backend", {"before": backend_before, "after": _backend_identity(chaos)})
    assert not problems, f"{service} stopped for {cfg.outage_s:g} s: " + "; ".join(problems)


@pytest.mark.control("CHS-02")
@pytest.mark.destructive
@pytest.mark.slow
@pytest.mark.faults("stop:{database}")
@pytest.mark.writes(WRITES_EPHEMERAL)
def test_database_down_health_prompt_and_backend_recovers(experiment: ChaosRun, evidence: Evidence) -> None:
    _dependency_down(experiment, experiment.target.profile.services.database, evidence)


@pytest.mark.control("CHS-03")
@pytest.mark.destructive
@pytest.mark.slow
@pytest.mark.faults("stop:{cache}")
@pytest.mark.writes(WRITES_EPHEMERAL)
def test_cache_down_health_prompt_and_backend_recovers(experiment: ChaosRun, evidence: Evidence) -> None:
    _dependency_down(experiment, experiment.target.profile.services.cache, evidence)


def _greeting_s(chaos: ChaosRun, service: str, timeout: float) -> float | None:
    """Seconds until the service's published port sends its first bytes (MySQL greets at once)."""
    import socket

    try:
        host, port = chaos.target.service(service).published_port(
            chaos.target.profile.database.container_port if service == chaos.target.profile.services.database
            else chaos.target.profile.redis.container_port)
        started = time.monotonic()
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            if service == chaos.target.profile.services.cache:
                sock.sendall(b"PING\r\n")
            sock.recv(16)
        return round(time.monotonic() - started, 3)
    except Exception:
        return None


@pytest.mark.control("CHS-05")
@pytest.mark.destructive
@pytest.mark.slow
@pytest.mark.writes(WRITES_EPHEMERAL)
def test_frozen_dependency_does_not_hang_health(frozen: tuple[str, str], experiment: ChaosRun,
                                                evidence: Evidence) -> None:
    chaos, cfg = experiment, experiment.cfg
    dependency, mode = frozen
    service = chaos.target.profile.health.dependency_services[dependency]
    manager = (chaos.injector.paused(service) if mode == "pause"
               else chaos.injector.slowed(service, cfg.slow_latency_s))
    problems = []
    with manager as fault:
        effect: dict[str, Any] = {"mechanism": fault.details}
        if mode == "pause":
            effect["paused"] = bool(chaos.target.service(service).state().get("Paused"))
            if not effect["paused"]:
                problems.append(f"{service} is not paused after docker pause: the fault did not take effect")
        else:
            effect["slowed_interfaces"] = qdiscs_left(chaos.target, chaos.target.service(service),
                                                      cfg.host_command_prefix)
            if not effect["slowed_interfaces"]:
                problems.append(f"no qdisc of stackprobe on {service}'s interfaces: the fault did not take effect")
        greeting: list[float | None] = []
        if mode == "slow":  # one exchange with the slowed service, halfway through the observation
            bound = cfg.slow_latency_s  # (a tbf fallback lets its first 1.6 KB through at once)

            def exchange() -> None:
                time.sleep(cfg.outage_s / 2)
                greeting.append(_greeting_s(chaos, service, bound))

            probe = threading.Thread(target=exchange, daemon=True)
            probe.start()
        seen = observe_health(chaos.backend, chaos.target.profile, dependency, service, fault.injected_at, cfg.outage_s)
        if mode == "slow":
            probe.join(timeout=bound + 1)
            effect["first_bytes_s_while_slowed"] = (greeting[0] if greeting and greeting[0] is not None
                                                    else f"none within {bound:g} s")
        else:  # a slowed database may still answer within the probe's time; a paused one cannot
            problems += _probe_needs_database(chaos, service, "paused", evidence)
        fault.restore()
        problems += outage_problems(chaos.target.profile, seen, must_reflect=False)
        problems += _recovery_after_undo(chaos, fault, service, dependency, evidence)
    evidence.record("effect", effect)
    evidence.record("outage", seen.summary())
    assert not problems, f"{service} {'paused' if mode == 'pause' else 'slowed'} for {cfg.outage_s:g} s: " + \
        "; ".join(problems)


@pytest.mark.control("CHS-06")
@pytest.mark.destructive
@pytest.mark.slow
@pytest.mark.writes(WRITES_EPHEMERAL)
def test_partition_degrades_then_heals(partition_dependency: str, experiment: ChaosRun, evidence: Evidence) -> None:
    chaos, cfg = experiment, experiment.cfg
    service = chaos.target.profile.health.dependency_services[partition_dependency]
    problems = []
    with chaos.injector.partitioned(service) as fault:
        networks = chaos.target.service(service).inspect()["NetworkSettings"].get("Networks") or {}
        effect: dict[str, Any] = {"networks_during_partition": sorted(networks),
                                  "disconnected_from": fault.details.get("disconnected_from")}
        if networks:
            problems.append(f"{service} is still on {sorted(networks)} after the disconnect: no partition")
        seen = observe_health(chaos.backend, chaos.target.profile, partition_dependency, service,
                              fault.injected_at, cfg.outage_s)
        problems += _probe_needs_database(chaos, service, "cut off", evidence)
        fault.restore()
        attrs = chaos.target.service(service).inspect()
        back = attrs["NetworkSettings"].get("Networks") or {}
        effect["after_undo"] = {name: [a for a in (n.get("Aliases") or []) if a != attrs["Id"][:12]]
                                for name, n in back.items()}
        for name in fault.record.details.get("networks", {}):
            if name not in back:
                problems.append(f"{service} not reconnected to {name}")
            elif service not in (back[name].get("Aliases") or []):
                problems.append(f"{service} reconnected to {name} without its alias {service!r}: it does not resolve")
        problems += outage_problems(chaos.target.profile, seen, must_reflect=False)
        problems += _recovery_after_undo(chaos, fault, service, partition_dependency, evidence)
    evidence.record("effect", effect)
    evidence.record("outage", seen.summary())
    assert not problems, f"{service} partitioned for {cfg.outage_s:g} s: " + "; ".join(problems)
