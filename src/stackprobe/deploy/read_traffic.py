"""Bounded read traffic during a deployment's update flow, and the outage window it saw (DEP-02)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import httpx

from stackprobe.traffic import BoundedTraffic


@dataclass
class TrafficReport:
    """What bounded read traffic saw; times are seconds after the traffic started."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    first_failure_s: float | None = None
    recovered_s: float | None = None  # first success after the last failure
    downtime_s: float | None = None  # first failure .. recovery; 0.0 when nothing failed
    max_latency_s: float = 0.0
    stopped_by: str = ""
    errors: dict[str, int] = field(default_factory=dict)

    def as_evidence(self) -> dict[str, Any]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {"sent": self.sent, "ok": self.ok, "failed": self.failed, "first_failure_s": r(self.first_failure_s),
                "recovered_s": r(self.recovered_s), "downtime_s": r(self.downtime_s),
                "max_latency_s": r(self.max_latency_s), "stopped_by": self.stopped_by, "errors": self.errors}


_STOPPED_BY = {"count": "max_requests", "time": "max_duration", "caller": "caller"}  # the evidence's words


class ReadTraffic:
    """GET requests round-robin over `urls`, one per `interval_s`, in a background thread (the
    one bounded traffic engine, stackprobe.traffic); bounded by `max_requests` and
    `max_duration_s`. Use as a context manager."""

    def __init__(self, urls: list[str], interval_s: float, max_requests: int, max_duration_s: float,
                 headers: dict[str, str] | None = None) -> None:
        self._client = httpx.Client(timeout=2.0, headers=headers or {})
        self._latencies: list[float] = []

        def send(seq: int) -> tuple[float, bool, str]:
            url = urls[seq % len(urls)]
            sent = self.elapsed()
            try:
                status = self._client.get(url).status_code
                sample = (sent, 200 <= status < 300, str(status))
            except httpx.HTTPError as error:
                sample = (sent, False, type(error).__name__)
            self._latencies.append(self.elapsed() - sent)
            return sample

        self._traffic = BoundedTraffic(send, concurrency=1, max_requests=max_requests, max_s=max_duration_s,
                                       pace=lambda _sample, latency: max(0.0, interval_s - latency),
                                       name="read-traffic")

    @property
    def samples(self) -> list[tuple[float, bool, str]]:  # (t, ok, status or error type)
        return self._traffic.snapshot()

    @property
    def stopped_by(self) -> str:
        return _STOPPED_BY.get(self._traffic.stopped_by, "")

    def __enter__(self) -> ReadTraffic:
        self._traffic.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def elapsed(self) -> float:
        return time.monotonic() - self._traffic.started

    def stop(self) -> None:
        self._traffic.stop()
        self._client.close()

    def sleep(self, seconds: float) -> None:
        """Let the traffic run for `seconds` more (returns early once it stopped)."""
        self._traffic.wait(seconds)

    def settle(self, since_s: float, max_s: float) -> bool:
        """Let the traffic run until an answer sent after `since_s` succeeded with no failure after
        it (so a recovery is observed, not assumed from the clock), at most `max_s` seconds more."""
        deadline = time.monotonic() + max_s
        while True:
            samples = self.samples
            last_failure = max((t for t, ok, _ in samples if not ok), default=-1.0)
            if any(ok and t >= max(since_s, last_failure) for t, ok, _ in samples):
                return True
            if time.monotonic() >= deadline or self._traffic.stopped_by:
                return False
            self._traffic.wait(min(0.1, max(0.0, deadline - time.monotonic())))

    def report(self) -> TrafficReport:
        samples = list(self.samples)
        report = TrafficReport(sent=len(samples), stopped_by=self.stopped_by)
        report.ok = sum(1 for _, ok, _ in samples if ok)
        report.failed = report.sent - report.ok
        report.max_latency_s = max(self._latencies, default=0.0)
        for _, ok, what in samples:
            if not ok:
                report.errors[what] = report.errors.get(what, 0) + 1
        failures = [t for t, ok, _ in samples if not ok]
        if not failures:
            report.downtime_s = 0.0
            return report
        report.first_failure_s = failures[0]
        after = [t for t, ok, _ in samples if ok and t > failures[-1]]
        if after:
            report.recovered_s = after[0]
            report.downtime_s = after[0] - failures[0]
        return report
