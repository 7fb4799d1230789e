"""CHS-04/07: a bounded writer whose every acknowledged write is recorded, and the Jepsen-style
accounting of what the store holds afterwards.

Each write attempt is an operation with an outcome:
- `ok`    acknowledged: the store said it is written (it must be there afterwards);
- `fail`  definitely not applied: the connection could not even be made;
- `info`  indeterminate: sent, then the connection broke or timed out (may or may not be there).
Afterwards every record of the writer is read back and classified:
- lost:        acknowledged, but missing or with another value;
- duplicated:  one write id present more than once;
- unexpected:  present, but never attempted or definitely failed;
- indeterminate writes present / absent are counted, never judged.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stackprobe.chaos.probes import mysql_writer
from stackprobe.targets.base import Target


@dataclass(frozen=True)
class Op:
    seq: int
    value: str
    started: float  # time.monotonic()
    ended: float
    outcome: str  # ok | fail | info
    error: str = ""


@dataclass
class Accounting:
    attempted: int
    acknowledged: int
    failed: int
    indeterminate: int
    lost: list[int] = field(default_factory=list)
    duplicated: list[int] = field(default_factory=list)
    unexpected: list[int] = field(default_factory=list)
    indeterminate_present: int = 0
    indeterminate_absent: int = 0

    @property
    def ok(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected)

    def as_evidence(self, sample: int = 20) -> dict[str, Any]:
        return {"attempted": self.attempted, "acknowledged": self.acknowledged, "failed": self.failed,
                "indeterminate": self.indeterminate, "lost": len(self.lost), "duplicated": len(self.duplicated),
                "unexpected": len(self.unexpected), "indeterminate_present": self.indeterminate_present,
                "indeterminate_absent": self.indeterminate_absent, "lost_sample": self.lost[:sample],
                "duplicated_sample": self.duplicated[:sample], "unexpected_sample": self.unexpected[:sample]}


def account(ops: list[Op], observed: dict[int, list[str]]) -> Accounting:
    """Compare the writer's history with what the store holds (write id -> values found)."""
    by_seq = {op.seq: op for op in ops}
    acked = [op for op in ops if op.outcome == "ok"]
    result = Accounting(attempted=len(ops), acknowledged=len(acked),
                        failed=sum(op.outcome == "fail" for op in ops),
                        indeterminate=sum(op.outcome == "info" for op in ops))
    for op in acked:
        if op.value not in observed.get(op.seq, []):
            result.lost.append(op.seq)
    for seq, values in sorted(observed.items()):
        if len(values) > 1:
            result.duplicated.append(seq)
        attempt = by_seq.get(seq)
        if attempt is None or attempt.outcome == "fail":
            result.unexpected.append(seq)
    for op in ops:
        if op.outcome == "info":
            if observed.get(op.seq):
                result.indeterminate_present += 1
            else:
                result.indeterminate_absent += 1
    return result


def _kind(error: str) -> str:
    """An error without its variable parts (ports, ids, numbers), to count errors by kind."""
    return re.sub(r"\d+", "N", error)[:90]


def split_lost(ops: list[Op], lost: list[int], crash_at: float, window_s: float) -> tuple[list[int], list[int]]:
    """Lost writes acknowledged within `window_s` before the crash (or after it), and older ones."""
    by_seq = {op.seq: op for op in ops}
    recent = [seq for seq in lost if by_seq[seq].ended >= crash_at - window_s]
    return recent, [seq for seq in lost if seq not in set(recent)]


def windows(ops: list[Op], fault_at: float, recovered_at: float | None, grace_s: float) -> dict[str, Any]:
    """The error window (first to last failed operation, by the moment it answered) against the
    outage window [fault, recovered + grace]; errors outside it are the violation (CHS-07).

    An operation is in the outage when it overlaps it: one sent during the outage that times out
    after it is the outage's (a request sent to a backend still starting can hang for its whole
    timeout), one sent after the window that fails is not. `fault_at` is when the fault was issued
    (Fault.issued_at): on a loaded host a load thread can see a connection reset by a kill before
    the injector's thread reads the clock after sending it."""
    errors = sorted((op for op in ops if op.outcome != "ok"), key=lambda op: op.ended)
    end = (recovered_at if recovered_at is not None else max((op.ended for op in ops), default=fault_at)) + grace_s
    outside = [op for op in errors if op.ended < fault_at or op.started > end]
    return {
        "outage_window_s": [0.0, round(end - grace_s - fault_at, 3)] if recovered_at is not None else None,
        "grace_s": grace_s,
        "error_window_s": ([round(min(op.ended for op in errors) - fault_at, 3),
                            round(max(op.ended for op in errors) - fault_at, 3)] if errors else None),
        "errors": len(errors),
        "error_kinds": dict(Counter(_kind(op.error) for op in errors).most_common(6)),
        "errors_outside": len(outside),
        "errors_outside_sample": [{"at_s": round(op.ended - fault_at, 3), "error": op.error[:160]}
                                  for op in outside[:10]],
    }


class _Store:
    """One kind of write target: connect, write one record, read every record back."""

    def connect(self) -> None:
        raise NotImplementedError

    def write(self, seq: int, value: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def read_all(self) -> dict[int, list[str]]:
        raise NotImplementedError


class MysqlRows(_Store):
    """Rows of a canary table: (auto id, seq, value); seq is not unique, so duplicates show."""

    def __init__(self, target: Target, table: str, timeout: float = 2.0) -> None:
        self.target, self.table, self.timeout = target, table, timeout
        self.connection: Any = None

    def create(self) -> None:
        connection = mysql_writer(self.target, 10)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE TABLE `{self.table}` (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                               "seq BIGINT NOT NULL, v VARCHAR(64) NOT NULL, KEY (seq)) ENGINE=InnoDB")
        finally:
            connection.close()

    def drop(self) -> None:
        connection = mysql_writer(self.target, 10)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS `{self.table}`")
        finally:
            connection.close()

    def connect(self) -> None:
        self.connection = mysql_writer(self.target, self.timeout)

    def write(self, seq: int, value: str) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO `{self.table}` (seq, v) VALUES (%s, %s)", (seq, value))

    def close(self) -> None:
        if self.connection is not None:
            with contextlib.suppress(Exception):
                self.connection.close()
            self.connection = None

    def read_all(self) -> dict[int, list[str]]:
        connection = mysql_writer(self.target, 10)
        try:
            with connection.cursor() as cursor:
                cursor.execute(f"SELECT seq, v FROM `{self.table}`")
                found: dict[int, list[str]] = {}
                for seq, value in cursor.fetchall():
                    found.setdefault(int(seq), []).append(str(value))
                return found
        finally:
            connection.close()


class RedisKeys(_Store):
    """One canary key per write id (a key cannot be duplicated: `duplicated` is 0 by construction)."""

    def __init__(self, target: Target, prefix: str, timeout: float = 2.0) -> None:
        self.target, self.prefix, self.timeout = target, prefix, timeout
        self.client: Any = None

    def connect(self) -> None:
        self.client = self.target.redis(timeout=self.timeout, single_attempt=True)
        self.client.ping()

    def write(self, seq: int, value: str) -> None:
        self.client.set(f"{self.prefix}{seq}", value, ex=3600)

    def close(self) -> None:
        if self.client is not None:
            with contextlib.suppress(Exception):
                self.client.close()
            self.client = None

    def read_all(self) -> dict[int, list[str]]:
        client = self.target.redis(timeout=5, single_attempt=True)
        try:
            found: dict[int, list[str]] = {}
            keys = list(client.scan_iter(match=self.prefix + "*", count=1000))
            values = client.mget(keys) if keys else []
            for key, value in zip(keys, values, strict=True):
                tail = str(key)[len(self.prefix):]
                if tail.isdigit() and value is not None:
                    found.setdefault(int(tail), []).append(str(value))
            return found
        finally:
            client.close()

    def drop(self) -> None:
        client = self.target.redis(timeout=5, single_attempt=True)
        try:
            keys = list(client.scan_iter(match=self.prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()


class BoundedWriter:
    """Writes seq 1, 2, ... to `store`, one every `interval_s`, until `max_writes`, `max_s` or
    stop(); a write is `fail` when no connection could be made, `info` when it broke mid-way."""

    def __init__(self, store: _Store, max_writes: int, max_s: float, interval_s: float) -> None:
        self.store = store
        self.max_writes, self.max_s, self.interval_s = max_writes, max_s, interval_s
        self.ops: list[Op] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stackprobe-writer", daemon=True)
        self.started = 0.0

    def _run(self) -> None:
        self.started = time.monotonic()
        connected = False
        for seq in range(1, self.max_writes + 1):
            if self._stop.is_set() or time.monotonic() - self.started > self.max_s:
                break
            value = secrets.token_hex(8)
            begun = time.monotonic()
            if not connected:
                try:
                    self.store.connect()
                    connected = True
                except Exception as error:  # never reached the store: definitely not applied
                    self.store.close()
                    self._add(Op(seq, value, begun, time.monotonic(), "fail", f"{type(error).__name__}: {error}"))
                    self._stop.wait(self.interval_s)
                    continue
            try:
                self.store.write(seq, value)
                self._add(Op(seq, value, begun, time.monotonic(), "ok"))
            except ConnectionRefusedError as error:  # refused before anything was sent
                self.store.close()
                connected = False
                self._add(Op(seq, value, begun, time.monotonic(), "fail", f"{type(error).__name__}: {error}"))
            except Exception as error:
                self.store.close()
                connected = False
                self._add(Op(seq, value, begun, time.monotonic(), "info", f"{type(error).__name__}: {error}"))
            self._stop.wait(self.interval_s)
        self.store.close()

    def _add(self, op: Op) -> None:
        with self._lock:
            self.ops.append(op)

    def start(self) -> BoundedWriter:
        self._thread.start()
        return self

    def stop(self) -> list[Op]:
        self._stop.set()
        self._thread.join(timeout=30)
        with self._lock:
            return list(self.ops)

    def acknowledged(self, since: float = 0.0) -> int:
        with self._lock:
            return sum(1 for op in self.ops if op.outcome == "ok" and op.started >= since)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def wait_for(self, condition: Callable[[], bool], timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and self.alive:
            if condition():
                return True
            time.sleep(0.02)
        return condition()
