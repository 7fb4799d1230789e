"""CTR-01..03: every container up, healthy, with a real healthcheck and a restart policy."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from stackprobe.evidence import Evidence
from stackprobe.targets import Target

_NS = 1_000_000_000
NO_OP_TESTS = {("CMD", "true"), ("CMD", "/bin/true"), ("CMD-SHELL", "true"), ("CMD-SHELL", "exit 0"),
               ("CMD-SHELL", "/bin/true"), ("CMD", "exit", "0"), ("NONE",)}


def _since(timestamp: str) -> float | None:
    """Seconds since a Docker timestamp (nanosecond precision, Z suffix)."""
    if not timestamp or timestamp.startswith("0001-"):
        return None
    stamp = datetime.fromisoformat(timestamp[:26].rstrip("Z") + "+00:00")
    return (datetime.now(UTC) - stamp).total_seconds()


@pytest.mark.control("CTR-01")
@pytest.mark.nightly
def test_containers_running_healthy_restarts_stable(target: Target, evidence: Evidence) -> None:
    """A crash-looping container can look up and healthy at any single moment between two
    restarts, so besides its state this reads Docker's own record: a restart count that grew
    during the run, or a restart by Docker in the last `recent_restart_s`. `observe_s` > 0
    also watches the states for that long."""
    cfg = target.profile.containers
    expected = set(target.compose_config().get("services", {}))
    services = target.services()
    problems = [f"{name}: no container" for name in sorted(expected - set(services))]
    seen: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + cfg.observe_s
    while True:
        for name, service in sorted(services.items()):
            attrs = service.inspect()
            state = attrs["State"]
            health = (state.get("Health") or {}).get("Status", "no healthcheck")
            entry = seen.setdefault(name, {"restarts_at_start": target.initial_restarts.get(
                name, attrs.get("RestartCount", 0)), "states": []})
            entry["restarts"] = attrs.get("RestartCount", 0)
            started = _since(state.get("StartedAt", ""))
            entry["started_s_ago"] = round(started, 1) if started is not None else None
            observed = state.get("Status") if state.get("Status") != "running" else f"running/{health}"
            if not entry["states"] or entry["states"][-1] != observed:
                entry["states"].append(observed)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    for name, entry in sorted(seen.items()):
        bad = [s for s in entry["states"] if s not in {"running/healthy", "running/no healthcheck"}]
        if bad:
            problems.append(f"{name}: seen {' -> '.join(entry['states'])}")
        if entry["restarts"] != entry["restarts_at_start"]:
            problems.append(f"{name}: restarted {entry['restarts'] - entry['restarts_at_start']} "
                            "time(s) during the run (crash loop? see `docker logs`)")
        elif entry["restarts"] and entry["started_s_ago"] is not None and \
                entry["started_s_ago"] < cfg.recent_restart_s:
            problems.append(f"{name}: restarted by Docker {entry['started_s_ago']:g} s ago (restart count "
                            f"{entry['restarts']}; crash loop? see `docker logs`)")
    evidence.record("observed_s", cfg.observe_s)
    evidence.record("containers", seen)
    assert not problems, "; ".join(problems)


@pytest.mark.control("CTR-02")
@pytest.mark.nightly
def test_real_healthchecks_within_bounds(target: Target, evidence: Evidence) -> None:
    bounds = target.profile.containers
    declared = target.compose_config().get("services", {})
    problems, seen = [], {}
    for name, service in sorted(target.services().items()):
        in_effect = service.inspect()["Config"].get("Healthcheck") or {}
        test = tuple(in_effect.get("Test") or ())
        composed = (declared.get(name) or {}).get("healthcheck") or {}
        interval = in_effect.get("Interval", 30 * _NS) / _NS
        timeout = in_effect.get("Timeout", 30 * _NS) / _NS
        retries = in_effect.get("Retries", 3)
        seen[name] = {"compose_test": composed.get("test"), "in_effect_test": list(test),
                      "interval_s": interval, "timeout_s": timeout, "retries": retries}
        if not test or composed.get("disable"):
            problems.append(f"{name}: no healthcheck")
            continue
        if test in NO_OP_TESTS or (len(test) == 2 and test[1].strip() in {"true", "exit 0", ":"}):
            problems.append(f"{name}: healthcheck {list(test)} is a no-op")
        if composed.get("test") and list(composed["test"]) != list(test):
            problems.append(f"{name}: healthcheck in effect {list(test)} differs from compose "
                            f"{composed['test']} (recreate the container)")
        if not 0 < interval <= bounds.healthcheck_max_interval_s:
            problems.append(f"{name}: interval {interval:g}s outside (0, {bounds.healthcheck_max_interval_s:g}]")
        if not 0 < timeout <= bounds.healthcheck_max_timeout_s:
            problems.append(f"{name}: timeout {timeout:g}s outside (0, {bounds.healthcheck_max_timeout_s:g}]")
        if not bounds.healthcheck_min_retries <= retries <= bounds.healthcheck_max_retries:
            problems.append(f"{name}: retries {retries} outside [{bounds.healthcheck_min_retries}, "
                            f"{bounds.healthcheck_max_retries}]")
    evidence.record("healthchecks", seen)
    assert not problems, "; ".join(problems)


@pytest.mark.control("CTR-03")
@pytest.mark.nightly
def test_restart_policy_on_long_running_services(target: Target, evidence: Evidence) -> None:
    allowed = target.profile.containers.restart_policies
    policies = {}
    for name, service in sorted(target.services().items()):
        if name in target.profile.containers.one_shot_services:
            continue
        policies[name] = service.inspect()["HostConfig"].get("RestartPolicy", {}).get("Name") or "no"
    evidence.record("restart_policies", policies)
    wrong = {n: p for n, p in policies.items() if p not in allowed}
    assert not wrong, f"restart policy not one of {allowed}: {wrong}"
