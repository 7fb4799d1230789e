"""Watching health while a dependency is out (CHS-02/03/05/06): answers polled at the chaos
suite's interval, at most four in flight, each bounded, and what they must show."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from stackprobe.chaos.probes import Backend, HttpAnswer
from stackprobe.chaos.recovery import pacing, raise_timing_priority
from stackprobe.health import HealthContract
from stackprobe.profile import Profile

OUTAGE_IN_FLIGHT = 4  # health answers out at once while a dependency is down


def dependency_of(profile: Profile, service: str) -> str:
    """The health dependency name that reports `service` ([health] dependency_services)."""
    for name, svc in profile.health.dependency_services.items():
        if svc == service:
            return name
    return ""


def dependency_service(profile: Profile, dependency: str) -> str:
    return profile.health.dependency_services[dependency]


@dataclass
class Outage:
    """Health answers seen while a dependency was out (times from the fault, in seconds)."""

    dependency: str
    service: str
    answers: list[dict[str, Any]] = field(default_factory=list)
    reflected_after_s: float | None = None  # first non-2xx naming the dependency
    max_latency_s: float = 0.0
    slow: int = 0  # answers (or timeouts) slower than degraded_latency_s
    healthy_after_reflect: int = 0  # 2xx answers after health had reflected the outage
    interval_s: float = 0.0  # how often health was asked

    def summary(self) -> dict[str, Any]:
        statuses: dict[str, int] = {}
        for answer in self.answers:
            statuses[str(answer["status"])] = statuses.get(str(answer["status"]), 0) + 1
        return {"dependency": self.dependency, "service": self.service, "answers": len(self.answers),
                "statuses": statuses, "reflected_after_s": self.reflected_after_s,
                "max_latency_s": round(self.max_latency_s, 3), "slower_than_budget": self.slow,
                "healthy_after_reflect": self.healthy_after_reflect, "polled_every_s": self.interval_s,
                "first_answers": self.answers[:8]}


def observe_health(backend: Backend, profile: Profile, dependency: str, service: str, since: float,
                   duration_s: float) -> Outage:
    """GET health every poll interval for `duration_s` (a new request even while earlier ones are
    out, at most OUTAGE_IN_FLIGHT at a time; slower through a relay: recovery.pacing), each bounded by
    degraded_latency_s + 1 s."""
    cfg = profile.chaos
    budget = cfg.degraded_latency_s
    contract = HealthContract(profile.health)
    interval, most = pacing(backend.target, profile.services.backend, cfg.poll_interval_s, OUTAGE_IN_FLIGHT)
    seen = Outage(dependency, service, interval_s=interval)
    lock = threading.Lock()
    answers: list[HttpAnswer] = []

    def ask() -> None:
        answer = backend.health(budget + 1.0)
        with lock:
            answers.append(answer)

    deadline = time.monotonic() + duration_s
    pool = ThreadPoolExecutor(max_workers=most, thread_name_prefix="stackprobe-outage",
                              initializer=raise_timing_priority)
    in_flight: list[Any] = []
    try:
        while time.monotonic() < deadline:
            in_flight = [f for f in in_flight if not f.done()]
            if len(in_flight) < most:
                in_flight.append(pool.submit(ask))
            time.sleep(interval)
        for future in in_flight:  # the last answers, each bounded by its own timeout
            future.exception(timeout=budget + 2)
    finally:  # on Ctrl-C/SIGTERM: straight on to the undo, the requests end by their timeouts
        pool.shutdown(wait=False, cancel_futures=True)
    with lock:
        collected = list(answers)  # answers still out now come too late to count
    for answer in sorted(collected, key=lambda a: a.started):
        latency = answer.latency_s
        seen.max_latency_s = max(seen.max_latency_s, latency)
        if latency > budget or (answer.status == 0 and "Timeout" in answer.error):
            seen.slow += 1
        reading = contract.read(answer.status, answer.text, answer.content_type)
        state = contract.dependency_state(reading, dependency)
        reflected = contract.reports_down(reading, dependency)
        at = round(answer.ended - since, 3)
        if reflected and seen.reflected_after_s is None:
            seen.reflected_after_s = at
        elif 200 <= answer.status < 300 and seen.reflected_after_s is not None:
            seen.healthy_after_reflect += 1
        seen.answers.append({"at_s": at, "status": answer.status, "latency_s": round(latency, 3),
                             "dependency": state, **({"error": answer.error} if answer.error else {})})
    return seen


def outage_problems(profile: Profile, seen: Outage, *, must_reflect: bool) -> list[str]:
    """What HLT-style reflection and a bounded latency demand of the answers seen during an outage."""
    cfg = profile.chaos
    problems = []
    if not seen.answers:
        problems.append("no health answer was recorded during the outage")
    if seen.slow:
        problems.append(f"health answered slower than {cfg.degraded_latency_s:g} s (or not at all) {seen.slow} "
                        f"times of {len(seen.answers)} while {seen.service} was out (max "
                        f"{seen.max_latency_s:.1f} s): a probe without a bound hangs the endpoint")
    if must_reflect:
        reflect = profile.health.reflect_within_s
        if seen.reflected_after_s is None:
            statuses = seen.summary()["statuses"]
            if all(status.startswith("2") for status in statuses):
                problems.append(f"health stayed 2xx for the whole outage ({len(seen.answers)} answers in "
                                f"{cfg.outage_s:g} s): it does not reflect {seen.dependency} ({seen.service}) "
                                "being down")
            else:
                problems.append(f"health never reported {seen.dependency} ({seen.service}) down during the whole "
                                f"outage ({len(seen.answers)} answers in {cfg.outage_s:g} s, statuses {statuses}): "
                                "answer non-2xx naming the dependency while it is down")
        elif seen.reflected_after_s > reflect + seen.interval_s:
            problems.append(f"health took {seen.reflected_after_s:.2f} s to answer non-2xx for {seen.dependency} "
                            f"(within {reflect:g} s expected, [health] reflect_within_s)")
        if seen.healthy_after_reflect:
            problems.append(f"health answered 2xx {seen.healthy_after_reflect} times while {seen.service} was still "
                            "down, after it had reflected the outage")
    return problems
