"""BKP-03: a bounded writer that moves amounts between two tables in transactions while a dump
runs, and what it saw.

The invariant spans two tables on purpose: mysqldump reads one table with one SELECT, which
InnoDB already serves from one consistent read, so a single table would look consistent even
in a dump without a snapshot. Here every transfer debits a row of `acct_a` and credits a row of
`acct_b` in one transaction; `acct_a` carries padding so that reading it takes a while. A dump
that reads the tables at different moments (no --single-transaction, no table locks) catches
transfers half-way: their debit is missing from `acct_a`, their credit is in `acct_b`, and the
restored total is off. A dump that locks the tables (mysqldump's default) is consistent, but
every transfer waits for the whole dump: the writer's longest wait says so. Each transfer is one
call of a procedure in the canary database, timed by the server itself.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

ACCOUNTS_A = "acct_a"
ACCOUNTS_B = "acct_b"
ROWS_B = 100
BALANCE = 1_000_000
FILLER_BYTES = 512  # 16 MD5 hex digests per row: random-looking, so gzip works for real
PROCEDURE = "stackprobe_transfer"
TABLES_SQL = (
    f"CREATE TABLE {ACCOUNTS_A} (id INT PRIMARY KEY, bal BIGINT NOT NULL, filler VARCHAR({FILLER_BYTES}) NOT NULL) "
    "ENGINE=InnoDB DEFAULT CHARSET=ascii",
    f"CREATE TABLE {ACCOUNTS_B} (id INT PRIMARY KEY, bal BIGINT NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=ascii",
    # one transfer = one round trip, timed by the server: the wait measured is the database's
    # (a table lock), not the network's (an SSH tunnel on a loaded host)
    f"CREATE PROCEDURE {PROCEDURE}(IN a INT, IN b INT, IN amount INT) MODIFIES SQL DATA "
    "BEGIN DECLARE began DATETIME(6) DEFAULT SYSDATE(6); START TRANSACTION; "
    f"UPDATE {ACCOUNTS_A} SET bal = bal - amount WHERE id = a; "
    f"UPDATE {ACCOUNTS_B} SET bal = bal + amount WHERE id = b; COMMIT; "
    "SELECT TIMESTAMPDIFF(MICROSECOND, began, SYSDATE(6)); END",
)


def rows_for(padding_mb: int) -> int:
    return max(ROWS_B, padding_mb * 1024 * 1024 // (FILLER_BYTES + 24))


def fill_sql(rows: int, first_id: int = 1) -> list[str]:
    """Statements that fill acct_a with `rows` rows server-side (a cross join of digits, so it
    works on MySQL 8 and MariaDB alike, without a sequence engine or recursion limits)."""
    digits = "(SELECT 0 n UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 " \
             "UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)"
    filler = "CONCAT(" + ", ".join(f"MD5(x * {k + 1} + {k})" for k in range(FILLER_BYTES // 32)) + ")"
    numbers = (f"SELECT d1.n + 10 * d2.n + 100 * d3.n + 1000 * d4.n + 10000 * d5.n + 100000 * d6.n AS x "
               f"FROM {digits} d1, {digits} d2, {digits} d3, {digits} d4, {digits} d5, {digits} d6")
    return [f"INSERT INTO {ACCOUNTS_A} (id, bal, filler) SELECT x + {first_id}, {BALANCE}, {filler} "
            f"FROM ({numbers}) s WHERE x < {rows}"]


def create_accounts(connection: Any, rows: int) -> int:
    """The two tables, filled; returns the total every consistent state has."""
    with connection.cursor() as cursor:
        for statement in TABLES_SQL:
            cursor.execute(statement)
        for statement in fill_sql(rows):
            cursor.execute(statement)
        cursor.executemany(f"INSERT INTO {ACCOUNTS_B} (id, bal) VALUES (%s, %s)",
                           [(n, BALANCE) for n in range(1, ROWS_B + 1)])
    connection.commit()
    return (rows + ROWS_B) * BALANCE


def grow_accounts(connection: Any, rows: int, more: int) -> int:
    """Add `more` padding rows (ids after `rows`); returns the new total."""
    with connection.cursor() as cursor:
        for statement in fill_sql(more, first_id=rows + 1):
            cursor.execute(statement)
    connection.commit()
    return (rows + more + ROWS_B) * BALANCE


def total(connection: Any, database: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT COALESCE(SUM(bal), 0) FROM `{database}`.{ACCOUNTS_A}) + "
                       f"(SELECT COALESCE(SUM(bal), 0) FROM `{database}`.{ACCOUNTS_B})")
        return int(cursor.fetchone()[0])


@dataclass(frozen=True)
class Commit:
    started: float  # the suite's clock around the call
    ended: float
    server_s: float | None = None  # how long the transfer took in the server

    @property
    def wait(self) -> float:
        """The server's own figure when there is one (a table lock shows there; a stalled
        network between the suite and the server does not)."""
        return self.server_s if self.server_s is not None else self.ended - self.started


def longest_stall(commits: list[Commit], window: tuple[float, float]) -> float:
    """The longest time one transfer took, among those that overlap the window (a transfer that
    waited out a table lock overlaps the dump that held it)."""
    start, end = window
    overlapping = [c.wait for c in commits if c.ended >= start and c.started <= end]
    return max(overlapping, default=0.0)


def committed_within(commits: list[Commit], window: tuple[float, float]) -> int:
    start, end = window
    return sum(1 for c in commits if start <= c.ended <= end)


@dataclass
class WriterReport:
    commits: list[Commit] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    moved: int = 0
    stopped_by: str = ""

    def summary(self, window: tuple[float, float]) -> dict[str, Any]:
        waits = sorted(c.wait for c in self.commits)
        start, end = window
        seen = [c.ended - c.started for c in self.commits if c.ended >= start and c.started <= end]
        return {"transfers": len(self.commits), "moved_total": self.moved, "stopped_by": self.stopped_by,
                "errors": self.errors, "committed_during_dump": committed_within(self.commits, window),
                "longest_wait_during_dump_s": round(longest_stall(self.commits, window), 3),
                "longest_round_trip_during_dump_s": round(max(seen, default=0.0), 3),
                "median_wait_s": round(waits[len(waits) // 2], 4) if waits else None}


class TransferWriter:
    """Transfers in a background thread, one every `interval_s`, until stopped, or
    `max_transactions`, or `max_seconds`. Each waits for locks at most `max_seconds`."""

    def __init__(self, connect: Callable[[], Any], rows_a: int, interval_s: float, max_transactions: int,
                 max_seconds: float, rng: random.Random | None = None) -> None:
        self.connect = connect
        self.rows_a = rows_a
        self.interval_s = interval_s
        self.max_transactions = max_transactions
        self.max_seconds = max_seconds
        self.rng = rng or random.Random()
        self.report = WriterReport()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stackprobe-transfers", daemon=True)
        self._first = threading.Event()

    def _run(self) -> None:
        started = time.monotonic()
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                lock_wait = max(1, int(self.max_seconds))
                cursor.execute(f"SET SESSION lock_wait_timeout = {lock_wait}, innodb_lock_wait_timeout = {lock_wait}, "
                               "autocommit = 1")
                while not self._stop.is_set():
                    if len(self.report.commits) >= self.max_transactions:
                        self.report.stopped_by = "max_transactions"
                        return
                    if time.monotonic() - started > self.max_seconds:
                        self.report.stopped_by = "max_seconds"
                        return
                    amount = self.rng.randint(1, 1000)
                    a, b = self.rng.randint(1, self.rows_a), self.rng.randint(1, ROWS_B)
                    begun = time.monotonic()
                    try:
                        cursor.execute(f"CALL {PROCEDURE}(%s, %s, %s)", (a, b, amount))
                        server_us = cursor.fetchone()[0]
                        while cursor.nextset():
                            pass
                    except Exception as error:  # a lock wait timeout or a dropped connection: counted
                        with contextlib.suppress(Exception):
                            connection.rollback()
                        name = type(error).__name__
                        self.report.errors[name] = self.report.errors.get(name, 0) + 1
                        if sum(self.report.errors.values()) > 20:
                            self.report.stopped_by = "errors"
                            return
                        continue
                    self.report.commits.append(Commit(begun, time.monotonic(), int(server_us) / 1e6))
                    self.report.moved += amount
                    self._first.set()
                    self._stop.wait(self.interval_s)
                self.report.stopped_by = self.report.stopped_by or "caller"
        finally:
            self._first.set()
            with contextlib.suppress(Exception):
                connection.close()

    @contextlib.contextmanager
    def running(self) -> Iterator[WriterReport]:
        """The writer runs inside the block (its first transfer committed before the block)."""
        self._thread.start()
        self._first.wait(timeout=30)
        try:
            yield self.report
        finally:
            self._stop.set()
            self._thread.join(timeout=self.max_seconds + 30)


class DumpWatcher:
    """Samples the server's process list for the dump's statements on one database, to tell
    when the dump read which table (evidence for BKP-03, and the window the stall is judged in)."""

    def __init__(self, connect: Callable[[], Any], database: str, interval_s: float = 0.05,
                 max_seconds: float = 600.0) -> None:
        self.connect = connect
        self.database = database
        self.interval_s = interval_s
        self.max_seconds = max_seconds
        self.seen: dict[str, tuple[float, float]] = {}  # table -> first, last sighting
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="stackprobe-dump-watch", daemon=True)

    def _run(self) -> None:
        started = time.monotonic()
        connection = self.connect()
        try:
            with connection.cursor() as cursor:
                while not self._stop.is_set() and time.monotonic() - started < self.max_seconds:
                    cursor.execute("SELECT INFO FROM information_schema.PROCESSLIST WHERE DB = %s AND INFO LIKE %s",
                                   (self.database, "SELECT /*!40001 SQL_NO_CACHE */%"))
                    now = time.monotonic()
                    for (info,) in cursor.fetchall():
                        table = str(info).rsplit("FROM", 1)[-1].strip().strip("`")
                        first, _ = self.seen.get(table, (now, now))
                        self.seen[table] = (first, now)
                    self._stop.wait(self.interval_s)
        finally:
            with contextlib.suppress(Exception):
                connection.close()

    def __enter__(self) -> DumpWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def window(self) -> tuple[float, float] | None:
        if not self.seen:
            return None
        return min(f for f, _ in self.seen.values()), max(last for _, last in self.seen.values())

    def summary(self, origin: float) -> dict[str, Any]:
        return {table: {"from_s": round(first - origin, 3), "to_s": round(last - origin, 3)}
                for table, (first, last) in sorted(self.seen.items(), key=lambda kv: kv[1])}
