"""Shared observations of the smoke suite: one outage experiment feeds HLT-03 and HLT-04."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from stackprobe.targets import Target


@dataclass
class OutageObservation:
    dependency: str
    service: str
    reflected_after_s: float | None = None  # first non-2xx naming the dependency
    first_status: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    docker_healthcheck_exit: int | None = None  # the container's own healthcheck command
    recovered_after_s: float | None = None
    max_latency_s: float = 0.0
    polls: int = 0


def _poll(client: httpx.Client, url: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    try:
        response = client.get(url, timeout=10)
        body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
        return response.status_code, body, time.monotonic() - started
    except (httpx.HTTPError, ValueError):
        return 0, {}, time.monotonic() - started


def observe_outage(target: Target, dependency: str, service: str, window_s: float) -> OutageObservation:
    """Stop one dependency, watch health at 100 ms, start it again, watch recovery."""
    seen = OutageObservation(dependency, service)
    client, url = target.http(), target.health_url
    container = target.service(service).container
    backend = target.service(target.profile.services.backend)
    container.stop(timeout=5)
    stopped = time.monotonic()
    try:
        while time.monotonic() - stopped < window_s:
            status, body, latency = _poll(client, url)
            seen.polls += 1
            seen.max_latency_s = max(seen.max_latency_s, latency)
            failing = body.get("services", {}).get(dependency)
            if not 200 <= status < 300 and failing != target.profile.health.healthy_value:
                seen.reflected_after_s = time.monotonic() - stopped
                seen.first_status, seen.body = status, body
                break
            time.sleep(0.1)
        if seen.reflected_after_s is not None:
            check = backend.inspect()["Config"].get("Healthcheck", {}).get("Test", [])
            if check and check[0] in {"CMD", "CMD-SHELL"}:
                cmd = check[1:] if check[0] == "CMD" else ["sh", "-c", check[1]]
                seen.docker_healthcheck_exit = backend.exec(cmd).exit_code
    finally:
        container.start()
    restarted = time.monotonic()
    while time.monotonic() - restarted < 120:
        status, _, _ = _poll(client, url)
        if status == 200:
            seen.recovered_after_s = time.monotonic() - restarted
            break
        time.sleep(0.1)
    return seen


@pytest.fixture(scope="module")
def outages(target: Target, request: pytest.FixtureRequest) -> dict[str, OutageObservation]:
    if target.kind == "live" and not request.config.stash[_settings_key()].allow_destructive:
        pytest.skip("stops dependencies: live targets need --allow-destructive")
    health = target.profile.health
    window = max(health.outage_window_s, health.reflect_within_s * 2)
    return {
        dependency: observe_outage(target, dependency, service, window)
        for dependency, service in health.dependency_services.items()
    }


def _settings_key() -> Any:
    from stackprobe.plugin import SETTINGS

    return SETTINGS
