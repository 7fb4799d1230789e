"""CHS-07: bounded load on the backend while it crashes, only ever to the target's own published
port: reads (every request an operation, ok when its status is one of [chaos] api_probe_ok,
bounded in requests, concurrency and seconds) and, where API writes are allowed, a bounded
writer of documents whose acknowledged writes are read back afterwards."""

from __future__ import annotations

import re
import secrets

from stackprobe.api_write import id_in, write_body
from stackprobe.chaos.history import Op, _Store
from stackprobe.chaos.probes import Backend
from stackprobe.traffic import BoundedTraffic


class BoundedLoad:
    """GETs of `paths` in turn through the backend, as the one bounded traffic engine sends them;
    every request an operation, ok when its status is one of `ok`."""

    def __init__(self, backend: Backend, paths: list[str], ok: list[int], concurrency: int, max_requests: int,
                 max_s: float, timeout_s: float = 5.0) -> None:
        self.timeout_s = timeout_s
        good_statuses = set(ok)

        def send(seq: int) -> Op:
            path = paths[seq % len(paths)]
            answer = backend.request("GET", path, timeout_s)
            good = answer.status in good_statuses
            return Op(seq, path, answer.started, answer.ended, "ok" if good else "info",
                      "" if good else f"GET {path}: {answer.status or answer.error}")

        # a refused connection answers at once: a failed request waits a moment, so no thread spins
        self._traffic = BoundedTraffic(send, concurrency=concurrency, max_requests=max_requests, max_s=max_s,
                                       pace=lambda op, _latency: 0.0 if op.outcome == "ok" else 0.02, first_seq=1,
                                       name="load")

    @property
    def started(self) -> float:
        return self._traffic.started

    def start(self) -> BoundedLoad:
        self._traffic.start()
        return self

    def stop(self) -> list[Op]:
        return sorted(self._traffic.stop(self.timeout_s + 5), key=lambda op: op.started)

    def successes(self, since: float = 0.0) -> int:
        return sum(1 for op in self._traffic.snapshot() if op.outcome == "ok" and op.started >= since)


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
        answer = self.backend.request("POST", self.cfg.api_write_path, self.timeout_s, json=write_body(self.cfg, text))
        if answer.status == 0 and ("ConnectError" in answer.error or answer.error.startswith("no published port")):
            raise ConnectionRefusedError(answer.error)  # never reached the backend: definitely not applied
        ident = id_in(self.cfg, answer.body) if 200 <= answer.status < 300 else None
        if ident is None:
            raise RuntimeError(f"POST {self.cfg.api_write_path}: {answer.status or answer.error}")
        self.ids[seq] = ident

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
