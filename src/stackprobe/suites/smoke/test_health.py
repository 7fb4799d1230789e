"""HLT-01..04: the health endpoint tells the truth, quickly."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

import pytest

from stackprobe.evidence import Evidence
from stackprobe.suites.smoke.conftest import OutageObservation
from stackprobe.targets import Target


@pytest.mark.control("HLT-01")
@pytest.mark.nightly
def test_health_answers_contract_within_budget(target: Target, evidence: Evidence) -> None:
    health = target.profile.health
    client = target.http()
    latencies, response = [], None
    for _ in range(3):
        started = time.perf_counter()
        response = client.get(target.health_url)
        latencies.append((time.perf_counter() - started) * 1000)
    assert response is not None
    body = response.json()
    median = statistics.median(latencies)
    evidence.record("url", target.health_url)
    evidence.record("status", response.status_code)
    evidence.record("body", body)
    evidence.record("latency_ms", {"samples": [round(x, 1) for x in latencies], "median": round(median, 1),
                                   "budget": health.latency_budget_ms})
    assert response.status_code == 200, f"health answered {response.status_code}, expected 200: {body}"
    missing = [f for f in health.required_fields if f not in body]
    assert not missing, f"health JSON lacks required fields {missing}; saw keys {sorted(body)}"
    assert median <= health.latency_budget_ms, (
        f"health median latency {median:.0f} ms exceeds the budget of {health.latency_budget_ms} ms"
    )


@pytest.mark.control("HLT-02")
@pytest.mark.nightly
def test_dependencies_healthy_and_timestamp_aware(target: Target, evidence: Evidence) -> None:
    health = target.profile.health
    body = target.http().get(target.health_url).json()
    evidence.record("body", body)
    services = body.get("services", {})
    unhealthy = {d: services.get(d, "(missing)") for d in health.dependencies
                 if services.get(d) != health.healthy_value}
    assert not unhealthy, f"dependencies not {health.healthy_value!r}: {unhealthy}"
    stamp = datetime.fromisoformat(str(body.get("timestamp")))
    assert stamp.tzinfo is not None, f"timestamp {body.get('timestamp')!r} has no time zone"
    skew = abs((datetime.now(UTC) - stamp).total_seconds())
    evidence.record("clock_skew_s", round(skew, 3))
    assert skew <= health.max_clock_skew_s, (
        f"timestamp {stamp.isoformat()} is {skew:.0f} s from now (max {health.max_clock_skew_s:g} s)"
    )


@pytest.mark.control("HLT-03")
@pytest.mark.destructive
@pytest.mark.faults("stop:{dependency_services}")
def test_health_fails_when_dependency_down(outages: dict[str, OutageObservation], evidence: Evidence) -> None:
    problems = []
    for name, seen in outages.items():
        evidence.record(f"outage:{name}", vars(seen))
        if seen.reflected_after_s is None:
            problems.append(f"{name} ({seen.service} stopped): health stayed 2xx for {seen.polls} polls")
        elif seen.docker_healthcheck_exit == 0:
            problems.append(f"{name}: health answered {seen.first_status} but the container's "
                            "healthcheck command still exits 0")
    assert not problems, "; ".join(problems)


@pytest.mark.control("HLT-04")
@pytest.mark.destructive
@pytest.mark.faults("stop:{dependency_services}")
def test_health_reflects_state_promptly(outages: dict[str, OutageObservation], evidence: Evidence,
                                        target: Target) -> None:
    limit = target.profile.health.reflect_within_s
    recover_limit = target.profile.health.recover_within_s
    problems = []
    for name, seen in outages.items():
        evidence.record(f"timing:{name}", {"reflected_after_s": seen.reflected_after_s,
                                           "recovered_after_s": seen.recovered_after_s})
        if seen.reflected_after_s is not None and seen.reflected_after_s > limit:
            problems.append(f"{name} outage showed in health after {seen.reflected_after_s:.1f} s "
                            f"(limit {limit:g} s): stale cached result?")
        if seen.recovered_after_s is None or seen.recovered_after_s > recover_limit:
            problems.append(f"{name}: health not 200 within {recover_limit:g} s after it came back "
                            f"(saw {seen.recovered_after_s})")
    assert not problems, "; ".join(problems)
