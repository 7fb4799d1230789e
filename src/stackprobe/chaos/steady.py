"""The steady-state hypothesis, from the profile: checked before every experiment (it must
hold, or the experiment is aborted) and after every one (CHS-08).

It holds when
- every container of the project (but [containers] one_shot_services) is running, not paused,
  not restarting, Docker-healthy (or has no healthcheck), on its networks with its service name
  as an alias, and carries no qdisc of ours (nothing slowed);
- the health endpoint answers 200 with status = [health] healthy_value within
  [chaos] degraded_latency_s;
- a write and a read succeed: a canary row in MySQL and a canary key in Redis (canary objects
  only, on every target).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stackprobe.chaos.probes import (
    Backend,
    Canary,
    api_probe,
    api_probe_ok,
    api_roundtrip,
    api_writes_allowed,
    mysql_roundtrip,
    redis_roundtrip,
)
from stackprobe.faults.kinds import qdiscs_left
from stackprobe.health import HealthContract
from stackprobe.targets.base import Target, docker_health

_NO_NETWORK_MODES = ("host", "none")


@dataclass
class SteadyReport:
    holds: bool
    problems: list[str] = field(default_factory=list)
    observed: dict[str, Any] = field(default_factory=dict)
    checked_at: str = ""
    waited_s: float = 0.0
    checks: int = 1

    def reason(self) -> str:
        return "; ".join(self.problems) or "steady"

    def as_evidence(self) -> dict[str, Any]:
        return {"holds": self.holds, "problems": self.problems, "checked_at": self.checked_at,
                "waited_s": round(self.waited_s, 2), "checks": self.checks, "observed": self.observed}


class SteadyState:
    def __init__(self, target: Target, canary_objects: Canary | None, backend: Backend | None = None,
                 check_qdisc: bool = True) -> None:
        self.target = target
        self.canary = canary_objects
        self.backend = backend or Backend(target)
        self.check_qdisc = check_qdisc
        # the API probe is part of the hypothesis until it first succeeds: a probe that cannot
        # succeed on a healthy stack is a profile error found before any fault; after that, a
        # backend that no longer answers it is the failing experiment's finding, not every later one's
        self.probe_proven = False
        self.write_proven = False  # the same for the write round trip, where API writes are allowed

    def check(self) -> SteadyReport:
        problems: list[str] = []
        observed: dict[str, Any] = {}
        profile = self.target.profile
        prefix = profile.chaos.host_command_prefix
        containers: dict[str, str] = {}
        services = self.target.services()
        for name in sorted(set(profile.health.dependency_services.values()) | {profile.services.backend}):
            if name not in services:
                problems.append(f"{name}: no container of project {self.target.project!r}")
        for name, service in sorted(services.items()):
            if name in profile.containers.one_shot_services:
                continue
            attrs = service.inspect()
            state = attrs["State"]
            health = docker_health(state)
            containers[name] = f"{state.get('Status')}/{health}"
            if not state.get("Running") or state.get("Restarting"):
                problems.append(f"{name}: {state.get('Status')} (not running)")
                continue
            if state.get("Paused"):
                problems.append(f"{name}: paused")
            if health not in ("healthy", "none"):
                problems.append(f"{name}: Docker health {health}")
            mode = str(attrs["HostConfig"].get("NetworkMode") or "")
            networks = attrs["NetworkSettings"].get("Networks") or {}
            if mode not in _NO_NETWORK_MODES and not mode.startswith("container:"):
                if not networks:
                    problems.append(f"{name}: on no network (disconnected)")
                for net, info in networks.items():
                    if name not in (info.get("Aliases") or []):
                        problems.append(f"{name}: on {net} without its alias {name!r} (does not resolve)")
            if self.check_qdisc and not state.get("Paused"):
                try:
                    left = qdiscs_left(self.target, service, prefix)
                except Exception as error:  # no nsenter/tc: say so, do not guess
                    problems.append(f"{name}: cannot read its qdiscs ({error})")
                else:
                    if left:
                        problems.append(f"{name}: still slowed (qdisc of stackprobe on {', '.join(left)})")
        observed["containers"] = containers
        timeout = profile.chaos.degraded_latency_s
        answer = self.backend.health(timeout)
        reading = self.backend.health_reading(answer)
        observed["health"] = {"status": answer.status, "latency_s": round(answer.latency_s, 3),
                              "body": reading.body if answer.status else answer.error}
        contract = HealthContract(profile.health)
        if not contract.healthy(reading):
            problems.append(f"health answered {answer.status or answer.error} ({reading.seen()}), expected 2xx with "
                            f"{contract.describe()}")
        # the probe the experiments judge recovery by must succeed on a healthy stack, or every
        # experiment would blame the stack for a probe that never could succeed
        answered = api_probe(self.backend, timeout) if not self.probe_proven else None
        if answered is not None:
            observed["api_probe"] = {"path": profile.chaos.api_probe_path,
                                     "status": answered.status or answered.error}
            self.probe_proven = api_probe_ok(self.backend, answered)
        if answered is not None and not self.probe_proven:
            problems.append(f"the chaos probe GET {profile.chaos.api_probe_path} answered "
                            f"{answered.status or answered.error}"
                            f" on a steady stack, expected one of {profile.chaos.api_probe_ok}: fix [chaos] "
                            "api_probe_path / api_probe_ok")
        if not self.write_proven and api_writes_allowed(self.target):
            try:
                api_roundtrip(self.backend, timeout)
            except RuntimeError as error:
                observed["api_write"] = str(error)
                problems.append(f"the chaos write probe failed on a steady stack ({error}): fix [chaos] "
                                "api_write_path / api_read_path / api_write_id_field, or declare [absent] parts "
                                "api_writes when the API stores nothing")
            else:
                self.write_proven = True
        if self.canary is not None:
            writes: dict[str, str] = {}
            canary_objects = self.canary
            roles = profile.services
            probes: list[tuple[str, Callable[[], None]]] = [
                (roles.database, lambda: mysql_roundtrip(self.target, canary_objects.table, canary_objects.next_seq()))]
            if roles.cache:  # a stack without a cache ([absent] parts) has no keys to write
                probes.append((roles.cache, lambda: redis_roundtrip(self.target, canary_objects.prefix,
                                                                    canary_objects.next_seq())))
            for what, probe in probes:
                try:
                    probe()
                    writes[what] = "ok"
                except Exception as error:
                    writes[what] = f"{type(error).__name__}: {str(error)[:160]}"
                    problems.append(f"canary write+read on {what} failed: {writes[what]}")
            observed["writes"] = writes
        return SteadyReport(not problems, problems, observed, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))

    def wait(self, timeout_s: float, interval_s: float = 0.5) -> SteadyReport:
        """Check until the hypothesis holds or `timeout_s` passed (the last report either way)."""
        started = time.monotonic()
        checks = 0
        while True:
            report = self.check()
            checks += 1
            report.waited_s, report.checks = time.monotonic() - started, checks
            if report.holds or time.monotonic() - started >= timeout_s:
                return report
            time.sleep(interval_s)
