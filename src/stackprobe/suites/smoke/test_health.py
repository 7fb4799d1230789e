"""HLT-01..04: the health endpoint tells the truth, quickly, under the profile's health contract
([health]: JSON with a status, dependencies and a timestamp where it says, or plain text)."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime

import pytest

from stackprobe.chaos.outage import OutageObservation
from stackprobe.evidence import Evidence
from stackprobe.health import HealthContract
from stackprobe.targets import Target


@pytest.mark.control("HLT-01")
@pytest.mark.nightly
def test_health_answers_contract_within_budget(target: Target, evidence: Evidence) -> None:
    health = target.profile.health
    contract = HealthContract(health)
    client = target.http()
    latencies, response = [], None
    for _ in range(3):
        started = time.perf_counter()
        response = client.get(target.health_url)
        latencies.append((time.perf_counter() - started) * 1000)
    assert response is not None
    reading = contract.read(response.status_code, response.text, response.headers.get("content-type", ""))
    median = statistics.median(latencies)
    evidence.record("url", target.health_url)
    evidence.record("contract", contract.describe())
    evidence.record("status", response.status_code)
    evidence.record("body", reading.body)
    evidence.record("latency_ms", {"samples": [round(x, 1) for x in latencies], "median": round(median, 1),
                                   "budget": health.latency_budget_ms})
    assert not reading.problem, reading.problem
    assert response.status_code == 200, f"health answered {response.status_code}, expected 200 ({reading.seen()})"
    missing = contract.missing_fields(reading)
    assert not missing, (f"health JSON lacks required fields {missing} ([health] required_fields); saw keys "
                         f"{sorted(reading.body) if isinstance(reading.body, dict) else type(reading.body).__name__}")
    assert contract.healthy(reading), f"health answered 200 with {reading.seen()}, expected {contract.describe()}"
    assert median <= health.latency_budget_ms, (
        f"health median latency {median:.0f} ms exceeds the budget of {health.latency_budget_ms} ms"
    )


@pytest.mark.control("HLT-02")
@pytest.mark.nightly
def test_dependencies_healthy_and_timestamp_aware(target: Target, evidence: Evidence) -> None:
    health = target.profile.health
    contract = HealthContract(health)
    if contract.is_text:
        pytest.skip('not applicable: the health contract is plain text ([health] format = "text"): it reports '
                    "no dependency and no timestamp")
    response = target.http().get(target.health_url)
    reading = contract.read(response.status_code, response.text, response.headers.get("content-type", ""))
    evidence.record("contract", contract.describe())
    evidence.record("body", reading.body)
    assert not reading.problem, reading.problem
    unhealthy = contract.unhealthy_dependencies(reading)
    evidence.record("dependencies", reading.dependencies)
    assert not unhealthy, (f"dependencies not {contract.dependency_healthy!r}: {unhealthy} (read at "
                           f"{', '.join(repr(contract.dependency_path(d)) for d in unhealthy)}; [health] "
                           "dependencies_field / dependency_paths say where)")
    if not health.timestamp_field:
        return
    try:
        stamp = datetime.fromisoformat(str(reading.timestamp))
    except ValueError:
        pytest.fail(f"timestamp {reading.timestamp!r} at {health.timestamp_field!r} is not an ISO-8601 time "
                    "([health] timestamp_field)")
    assert stamp.tzinfo is not None, f"timestamp {reading.timestamp!r} has no time zone"
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
    """Promptness needs a reflection to time: an outage health never showed is a failure here
    too (it cannot be judged prompt), never a pass."""
    limit = target.profile.health.reflect_within_s
    recover_limit = target.profile.health.recover_within_s
    problems = []
    for name, seen in outages.items():
        evidence.record(f"timing:{name}", {"reflected_after_s": seen.reflected_after_s,
                                           "recovered_after_s": seen.recovered_after_s,
                                           "service_ready_after_s": seen.service_ready_after_s})
        if seen.reflected_after_s is None:
            problems.append(f"{name} outage never showed in health ({seen.polls} polls): nothing to time "
                            "(see HLT-03)")
        elif seen.reflected_after_s > limit:
            problems.append(f"{name} outage showed in health after {seen.reflected_after_s:.1f} s "
                            f"(limit {limit:g} s): stale cached result?")
        if seen.recovered_after_s is None or seen.recovered_after_s > recover_limit:
            problems.append(f"{name}: health not 200 within {recover_limit:g} s after it came back "
                            f"(saw {seen.recovered_after_s})")
    assert not problems, "; ".join(problems)
