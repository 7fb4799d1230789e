"""The image layer scan is bounded by its own deadline, not by the Docker client's
per-request timeout (seen in CI: a 30 s read timeout on `docker image save` under load
turned SEC-07 into an error instead of an honest "not proven")."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import pytest
import requests.exceptions

from stackprobe.inspect.facts import _scan_layers


class _SlowEngine:
    """An API client whose `get_image` records the timeout it was given and then fails the
    way requests does when the engine stays silent."""

    def __init__(self, error: Exception) -> None:
        self.timeout: float = 120
        self.seen_timeouts: list[float] = []
        self.error = error

    def get_image(self, image_id: str, chunk_size: int) -> Any:
        self.seen_timeouts.append(self.timeout)
        raise self.error


def _target(api: _SlowEngine) -> Any:
    return SimpleNamespace(docker=SimpleNamespace(api=api))


@pytest.mark.parametrize("error", [
    requests.exceptions.ReadTimeout("read timeout=0.2"),
    requests.exceptions.ConnectionError("Read timed out."),
])
def test_an_engine_silent_until_the_deadline_leaves_the_scan_incomplete(error: Exception) -> None:
    api = _SlowEngine(error)
    deadline = time.monotonic() + 0.5  # already within the last second of the scan
    scan = _scan_layers(_target(api), "sha256:abc", "backend:1", {}, 1 << 20, deadline, set())
    assert scan.complete is False
    assert scan.image == "backend:1"
    assert api.seen_timeouts == [1.0]  # the request was bounded by what was left, at least 1 s
    assert api.timeout == 120  # and the client's own timeout restored


def test_a_failure_well_before_the_deadline_is_not_hidden_as_incomplete() -> None:
    api = _SlowEngine(requests.exceptions.ConnectionError("connection refused"))
    deadline = time.monotonic() + 60
    with pytest.raises(requests.exceptions.ConnectionError):
        _scan_layers(_target(api), "sha256:abc", "backend:1", {}, 1 << 20, deadline, set())
    assert 59 < api.seen_timeouts[0] <= 60
    assert api.timeout == 120
