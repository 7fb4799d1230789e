"""Bounded concurrent HTTP traffic that carries a unique sequence id per request.

Every request gets a header (e.g. X-Request-ID) `<prefix>-<seq>`; `concurrency` threads take
sequence numbers in order from one counter. Each request's start and acknowledgement are
recorded on one monotonic clock: a request acknowledged before another started is a fact a
check can rely on (LOG-03: its log line was written first). The run is bounded in requests
AND seconds, and reports what it sent.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
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
    lock = threading.Lock()
    next_seq = [first_seq]
    end_seq = first_seq + requests
    started = time.monotonic()
    deadline = started + max_seconds
    timed_out = threading.Event()

    def worker() -> list[Sent]:
        done: list[Sent] = []
        while True:
            with lock:
                if next_seq[0] >= end_seq:
                    return done
                if time.monotonic() >= deadline:
                    timed_out.set()
                    return done
                seq = next_seq[0]
                next_seq[0] += 1
            rid = request_id(prefix, seq)
            began = time.monotonic()
            try:
                response = client.get(url, headers={header: rid}, timeout=timeout)
                done.append(Sent(seq, rid, response.status_code, began, time.monotonic()))
            except httpx.HTTPError as error:
                done.append(Sent(seq, rid, 0, began, time.monotonic(), type(error).__name__))

    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="traffic") as pool:
        futures = [pool.submit(worker) for _ in range(concurrency)]
        for future in futures:
            report.sent.extend(future.result())
    report.sent.sort(key=lambda s: s.seq)
    report.seconds = time.monotonic() - started
    report.stopped_by = "time" if timed_out.is_set() else "count"
    return report
