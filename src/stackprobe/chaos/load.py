"""CHS-07: bounded load on the backend while it crashes, only ever to the target's own published
port: reads (every request an operation, ok when its status is one of [chaos] api_probe_ok,
bounded in requests, concurrency and seconds) and, where API writes are allowed, a bounded
writer of documents whose acknowledged writes are read back afterwards."""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import time

from stackprobe.chaos.history import Op, _Store
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


class ApiDocuments(_Store):
    """Writes through the backend's API (POST api_write_path), each write's text carrying its id;
    read back by GET api_read_path of every acknowledged document (the API has no listing, so
    indeterminate writes stay unknown and `unexpected` cannot be seen here)."""

    def __init__(self, backend: Backend, timeout_s: float = 5.0) -> None:
        self.backend, self.timeout_s = backend, timeout_s
        self.cfg = backend.target.profile.chaos
        self.marker = f"stackprobe chaos writer {secrets.token_hex(4)}"
        self.ids: dict[int, str] = {}  # seq -> document id, for acknowledged writes

    def connect(self) -> None:
        if self.backend.url() is None:
            raise ConnectionError("the backend has no published port (restarting)")

    def write(self, seq: int, value: str) -> None:
        text = f"{self.marker} seq={seq} value={value}"
        body = {k: v.replace("{marker}", text) for k, v in self.cfg.api_write_body.items()}
        answer = self.backend.request("POST", self.cfg.api_write_path, self.timeout_s, json=body)
        if answer.status == 0 and ("ConnectError" in answer.error or answer.error.startswith("no published port")):
            raise ConnectionRefusedError(answer.error)  # never reached the backend: definitely not applied
        if not 200 <= answer.status < 300 or "id" not in answer.body:
            raise RuntimeError(f"POST {self.cfg.api_write_path}: {answer.status or answer.error}")
        self.ids[seq] = str(answer.body["id"])

    def close(self) -> None:
        pass

    def read_all(self) -> dict[int, list[str]]:
        found: dict[int, list[str]] = {}
        for seq, ident in sorted(self.ids.items()):
            answer = self.backend.request("GET", self.cfg.api_read_path.replace("{id}", ident), self.timeout_s)
            match = re.search(rf"{re.escape(self.marker)} seq={seq} value=(\w+)", str(answer.body))
            if answer.status == 200 and match:
                found.setdefault(seq, []).append(match.group(1))
        return found
