"""HLT-03/04's experiment: stop one dependency through the run's fault injector (an undo record
first, so a killed run's outage is healed by the next), watch health every 100 ms until it says
so, start the dependency again and watch health recover. The stack is put back only when the
dependency's own container is ready again too (running, and healthy by its own healthcheck if it
has one): a health that answers 200 whatever the database does must not hand the next check a
database still starting."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx

from stackprobe.faults import Injector
from stackprobe.health import HealthContract, HealthReading
from stackprobe.targets.base import Target, container_ready


@dataclass
class OutageObservation:
    dependency: str
    service: str
    reflected_after_s: float | None = None  # first non-2xx naming the dependency
    first_status: int | None = None
    body: Any = None  # the first answer that reflected the outage
    docker_healthcheck_exit: int | None = None  # the container's own healthcheck command
    recovered_after_s: float | None = None
    service_ready_after_s: float | None = None  # the dependency's container running and healthy again
    max_latency_s: float = 0.0
    polls: int = 0
    undo: str = ""  # what the injector did to put the dependency back


def poll_health(client: httpx.Client, url: str, contract: HealthContract) -> tuple[HealthReading, float]:
    """One answer read under the contract, and its latency; status 0 when nothing answered."""
    started = time.monotonic()
    try:
        response = client.get(url, timeout=10)
    except httpx.HTTPError:
        return contract.read(0, ""), time.monotonic() - started
    return (contract.read(response.status_code, response.text, response.headers.get("content-type", "")),
            time.monotonic() - started)


def not_healthy_before(target: Target, wait_s: float) -> str:
    """"" once health says healthy (within `wait_s`), else what it answered instead, in one line.

    An outage is observed against a healthy baseline: on a health that is down, or where
    nothing answers, stopping a dependency can show nothing, so it is not done at all."""
    client, url = target.http(), target.health_url
    contract = HealthContract(target.profile.health)
    started = time.monotonic()
    while True:
        reading, _ = poll_health(client, url, contract)
        if contract.healthy(reading):
            return ""
        if time.monotonic() - started >= wait_s:
            break
        time.sleep(0.5)
    answer = "nothing answered" if reading.http_status == 0 else f"it answered {reading.http_status} ({reading.seen()})"
    return (f"health at {url} was not healthy before any outage ({answer} for {wait_s:g} s; expected "
            f"{contract.describe()}): no dependency was stopped, there would be nothing to see (HLT-01/02 say why)")


def observe_outage(target: Target, injector: Injector, dependency: str, service: str,
                   window_s: float, recover_within_s: float = 120.0) -> OutageObservation:
    """Stop `service` (health calls it `dependency`), watch health at 100 ms for `window_s`, start it
    again, and watch health answer 200 (for at most `recover_within_s`)."""
    seen = OutageObservation(dependency, service)
    client, url = target.http(), target.health_url
    contract = HealthContract(target.profile.health)
    backend = target.service(target.profile.services.backend)
    with injector.stopped(service) as fault:
        stopped = fault.injected_at
        while time.monotonic() - stopped < window_s:
            reading, latency = poll_health(client, url, contract)
            seen.polls += 1
            seen.max_latency_s = max(seen.max_latency_s, latency)
            if contract.reports_down(reading, dependency):
                seen.reflected_after_s = time.monotonic() - stopped
                seen.first_status, seen.body = reading.http_status, reading.body
                break
            time.sleep(0.1)
        if seen.reflected_after_s is not None:
            check = backend.inspect()["Config"].get("Healthcheck", {}).get("Test", [])
            if check and check[0] in {"CMD", "CMD-SHELL"}:
                cmd = check[1:] if check[0] == "CMD" else ["sh", "-c", check[1]]
                seen.docker_healthcheck_exit = backend.exec(cmd).exit_code
        seen.undo = fault.restore()
    restarted = time.monotonic()
    dependency_service = target.service(service)
    while time.monotonic() - restarted < recover_within_s:
        if seen.recovered_after_s is None:
            reading, _ = poll_health(client, url, contract)
            if contract.healthy(reading):
                seen.recovered_after_s = time.monotonic() - restarted
        if seen.service_ready_after_s is None and container_ready(dependency_service.state()):
            seen.service_ready_after_s = time.monotonic() - restarted
        if seen.recovered_after_s is not None and seen.service_ready_after_s is not None:
            break
        time.sleep(0.1)
    return seen
