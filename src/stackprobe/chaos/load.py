"""CHS-07: bounded read load on the backend while it crashes: every request recorded as an
operation (ok when its status is one of [chaos] api_probe_ok), bounded in requests,
concurrency and seconds, only ever to the target's own published port."""

from __future__ import annotations

import itertools
import threading
import time

from stackprobe.chaos.history import Op
from stackprobe.chaos.probes import Backend


class BoundedLoad:
    def __init__(self, backend: Backend, paths: list[str], ok: list[int], concurrency: int, max_requests: int,
                 max_s: float, timeout_s: float = 5.0) -> None:
        self.backend, self.paths, self.ok = backend, paths, set(ok)
        self.concurrency, self.max_requests, self.max_s = concurrency, max_requests, max_s
        self.timeout_s = timeout_s
        self.ops: list[Op] = []
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, name=f"stackprobe-load-{n}", daemon=True)
                         for n in range(concurrency)]
        self.started = 0.0

    def _run(self) -> None:
        while not self._stop.is_set() and time.monotonic() - self.started < self.max_s:
            seq = next(self._counter)
            if seq > self.max_requests:
                return
            path = self.paths[seq % len(self.paths)]
            answer = self.backend.request("GET", path, self.timeout_s)
            good = answer.status in self.ok
            op = Op(seq, path, answer.started, answer.ended, "ok" if good else "info",
                    "" if good else f"GET {path}: {answer.status or answer.error}")
            with self._lock:
                self.ops.append(op)
            if not good:
                time.sleep(0.02)  # a refused connection answers at once: do not spin

    def start(self) -> BoundedLoad:
        self.started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> list[Op]:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=self.timeout_s + 5)
        with self._lock:
            return sorted(self.ops, key=lambda op: op.started)

    def successes(self, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for op in self.ops if op.outcome == "ok" and op.started >= since)
