"""CTR-01..03: every container up, healthy, with a real healthcheck and a restart policy."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import pytest

from stackprobe.checks.inspected import check_healthchecks_in_effect, check_restart_in_effect, model_from_inspect
from stackprobe.checks.policies import compose_policy
from stackprobe.evidence import Evidence
from stackprobe.targets import Target


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
    also watches the states for that long. A `[containers] one_shot_services` entry may also
    have exited with status 0."""
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
            observed = {"running": f"running/{health}", "exited": f"exited({state.get('ExitCode')})"}.get(
                state.get("Status", ""), state.get("Status"))
            if not entry["states"] or entry["states"][-1] != observed:
                entry["states"].append(observed)
        if time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    one_shot = set(cfg.one_shot_services)
    for name, entry in sorted(seen.items()):
        # a one-shot service (migrations, an init job) is done when it exited 0
        good = {"running/healthy", "running/no healthcheck"} | ({"exited(0)"} if name in one_shot else set())
        bad = [s for s in entry["states"] if s not in good]
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
    """The file-side CTR-02 rule on the healthchecks Docker runs (checks.inspected)."""
    policy = compose_policy(target.profile)
    inspected = {name: service.inspect() for name, service in sorted(target.services().items())}
    evidence.record("healthchecks", {name: spec.get("healthcheck")
                                     for name, spec in model_from_inspect(inspected)["services"].items()})
    found = check_healthchecks_in_effect(inspected, target.compose_config(), policy.healthcheck,
                                         policy.one_shot_services)
    assert not found, "; ".join(f.message for f in found)


@pytest.mark.control("CTR-03")
@pytest.mark.nightly
def test_restart_policy_on_long_running_services(target: Target, evidence: Evidence) -> None:
    """The file-side CTR-03 rule on the restart policies Docker applies (checks.inspected)."""
    policy = compose_policy(target.profile)
    inspected = {name: service.inspect() for name, service in sorted(target.services().items())}
    evidence.record("restart_policies", {name: spec.get("restart") or "no"
                                         for name, spec in model_from_inspect(inspected)["services"].items()})
    found = check_restart_in_effect(inspected, policy.restart_policies, policy.one_shot_services)
    assert not found, "; ".join(f.message for f in found)
