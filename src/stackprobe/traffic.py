"""Bounded concurrent HTTP traffic that carries a unique sequence id per request.

Every request gets a header (e.g. X-Request-ID) `<prefix>-<seq>`; `concurrency` threads take
sequence numbers in order from one counter. Each request's start and acknowledgement are
recorded on one monotonic clock: a request acknowledged before another started is a fact a
check can rely on (LOG-03: its log line was written first). The run is bounded in requests
AND seconds, and reports what it sent. `BoundedTraffic` is the engine under it, and under the
chaos suite's load and the deploy suite's read traffic too.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass(frozen=True)
class Sent:
    seq: int
    request_id: str
    status: int  # 0: no response (transport error or timeout): its fate is unknown
    started: float  # time.monotonic() when sent
    finished: float  # time.monotonic() when the response (or the error) came
    error: str = ""

    @property
    def acknowledged(self) -> bool:
        return self.status > 0


@dataclass
class TrafficReport:
    url: str
    header: str
    prefix: str
    concurrency: int
    max_requests: int
    max_seconds: float
    sent: list[Sent] = field(default_factory=list)
    seconds: float = 0.0
    stopped_by: str = ""  # "count" | "time"

    @property
    def acknowledged(self) -> list[Sent]:
        return [s for s in self.sent if s.acknowledged]

    def summary(self) -> dict[str, Any]:
        statuses = Counter(str(s.status) for s in self.sent)
        errors = Counter(s.error for s in self.sent if s.error)
        return {
            "url": self.url,
            "id_header": self.header,
            "id_prefix": self.prefix,
            "requests_sent": len(self.sent),
            "acknowledged": len(self.acknowledged),
            "no_response": len(self.sent) - len(self.acknowledged),
            "statuses": dict(sorted(statuses.items())),
            "errors": dict(errors.most_common(5)),
            "concurrency": self.concurrency,
            "bounds": {"requests": self.max_requests, "seconds": self.max_seconds},
            "stopped_by": self.stopped_by,
            "seconds": round(self.seconds, 2),
            "requests_per_s": round(len(self.sent) / self.seconds, 1) if self.seconds else 0.0,
        }


def request_id(prefix: str, seq: int) -> str:
    return f"{prefix}-{seq:07d}"


def sequenced_traffic(
    client: httpx.Client, url: str, *, header: str, prefix: str, requests: int, concurrency: int,
    max_seconds: float, first_seq: int = 0, timeout: float = 10.0,
) -> TrafficReport:
    """GET `url` `requests` times (sequence numbers from `first_seq`), at most `concurrency`
    in flight, stopping early after `max_seconds`; every request's outcome is reported."""
    if requests < 0 or concurrency < 1 or max_seconds <= 0:
        raise ValueError("requests >= 0, concurrency >= 1 and max_seconds > 0 are required")
    report = TrafficReport(url, header, prefix, concurrency, requests, max_seconds)

    def send(seq: int) -> Sent:
        rid = request_id(prefix, seq)
        began = time.monotonic()
        try:
            response = client.get(url, headers={header: rid}, timeout=timeout)
            return Sent(seq, rid, response.status_code, began, time.monotonic())
        except httpx.HTTPError as error:
            return Sent(seq, rid, 0, began, time.monotonic(), type(error).__name__)

    traffic = BoundedTraffic(send, concurrency=concurrency, max_requests=requests, max_s=max_seconds,
                             first_seq=first_seq)
    report.sent = sorted(traffic.run(), key=lambda s: s.seq)
    report.seconds = time.monotonic() - traffic.started
    report.stopped_by = "time" if traffic.stopped_by == "time" else "count"
    return report


class BoundedTraffic:
    """The one traffic engine of every suite: `concurrency` threads take sequence numbers from
    one counter and call `send(seq)`, until `max_requests` were sent, `max_s` passed, or
    `stop()`; after each request a thread waits `pace(result, latency_s)` seconds (a fixed
    rate, or a back-off after a failure). Only ever pointed at the target's own addresses."""

    def __init__(self, send: Callable[[int], Any], *, concurrency: int, max_requests: int, max_s: float,
                 pace: Callable[[Any, float], float] | None = None, first_seq: int = 0, name: str = "traffic") -> None:
        if max_requests < 0 or concurrency < 1 or max_s <= 0:
            raise ValueError("max_requests >= 0, concurrency >= 1 and max_s > 0 are required")
        self.send, self.pace = send, pace
        self.concurrency, self.max_requests, self.max_s = concurrency, max_requests, max_s
        self.results: list[Any] = []
        self.stopped_by = ""  # "count" | "time" | "caller"
        self.started = 0.0
        self._next, self._end = first_seq, first_seq + max_requests
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"stackprobe-{name}-{n}", daemon=True)
                         for n in range(concurrency)]

    def _take(self) -> int | None:
        with self._lock:
            if self._stop.is_set():
                return None
            if self._next >= self._end:
                self.stopped_by = self.stopped_by or "count"
                return None
            if time.monotonic() - self.started >= self.max_s:
                self.stopped_by = self.stopped_by or "time"
                return None
            seq = self._next
            self._next += 1
            return seq

    def _run(self) -> None:
        while (seq := self._take()) is not None:
            began = time.monotonic()
            result = self.send(seq)
            with self._lock:
                self.results.append(result)
            wait = self.pace(result, time.monotonic() - began) if self.pace else 0.0
            if wait > 0:
                self._stop.wait(wait)

    def start(self) -> BoundedTraffic:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def wait(self, timeout: float | None = None) -> None:
        """Until every thread is done (the bounds end them), or `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    def stop(self, join_timeout_s: float = 30.0) -> list[Any]:
        with self._lock:
            self.stopped_by = self.stopped_by or "caller"
        self._stop.set()
        self.wait(join_timeout_s)
        with self._lock:
            return list(self.results)

    def snapshot(self) -> list[Any]:
        """The results so far (the traffic may still run)."""
        with self._lock:
            return list(self.results)

    def run(self) -> list[Any]:
        """Start, run until a bound ends it, and return every result."""
        self.start().wait()
        with self._lock:
            return list(self.results)
