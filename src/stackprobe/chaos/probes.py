"""Probes of the stack during and after a fault: each one a fresh, bounded connection.

Addresses are looked up again after every failure: a container restarted by Docker gets a new
random host port when the compose file publishes `127.0.0.1::PORT` (seen on Docker 20.10).
Writes go to canary objects only (`stackprobe.canary` names), except the backend's API write,
which the profile allows on ephemeral targets (and on live ones only with api_write_on_live).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from stackprobe import canary
from stackprobe.api_write import id_in, stores_documents, write_body
from stackprobe.health import HealthContract, HealthReading
from stackprobe.targets.base import Target


@dataclass(frozen=True)
class HttpAnswer:
    status: int  # 0: no answer (connection refused, timeout, no published port)
    body: dict[str, Any]
    started: float  # time.monotonic()
    ended: float
    error: str = ""
    text: str = ""  # the body as sent (bounded), for contracts that are not JSON
    content_type: str = ""

    @property
    def latency_s(self) -> float:
        return self.ended - self.started


class Backend:
    """The backend's base URL, looked up again whenever a request fails; a fresh connection per
    request (no keep-alive), with the profile's credentials."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._url: str | None = None
        self._lock = threading.Lock()
        shared = target.http()
        self._headers = dict(shared.headers)
        self._auth = shared.auth
        self._local = threading.local()

    def url(self) -> str | None:
        with self._lock:
            if self._url is not None:
                return self._url
        try:  # outside the lock: one slow Docker call must not hold up every other request
            found = self.target.backend_url
        except Exception:  # restarting: no published port, or the container is gone
            return None
        with self._lock:
            self._url = found
        return found

    def forget(self) -> None:
        with self._lock:
            self._url = None

    def _client(self) -> httpx.Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = httpx.Client(headers=self._headers, auth=self._auth,
                                  limits=httpx.Limits(max_keepalive_connections=0))
            self._local.client = client
        return client

    def request(self, method: str, path: str, timeout: float, json: Any = None) -> HttpAnswer:
        started = time.monotonic()
        base = self.url()
        if base is None:
            return HttpAnswer(0, {}, started, time.monotonic(), "no published port (container restarting?)")
        try:
            response = self._client().request(method, base + path, json=json, timeout=timeout)
        except httpx.HTTPError as error:
            self.forget()
            return HttpAnswer(0, {}, started, time.monotonic(), f"{type(error).__name__}: {str(error)[:160]}")
        body: dict[str, Any] = {}
        if response.headers.get("content-type", "").startswith("application/json"):
            with contextlib.suppress(ValueError):
                parsed = response.json()
                body = parsed if isinstance(parsed, dict) else {"value": parsed}
        return HttpAnswer(response.status_code, body, started, time.monotonic(), text=response.text[:65536],
                          content_type=response.headers.get("content-type", ""))

    def health(self, timeout: float) -> HttpAnswer:
        return self.request("GET", self.target.profile.health.path, timeout)

    def health_reading(self, answer: HttpAnswer) -> HealthReading:
        """A health answer read under the profile's health contract."""
        return HealthContract(self.target.profile.health).read(answer.status, answer.text, answer.content_type)


class Canary:
    """This run's canary table (MySQL) and key prefix (Redis) for the steady-state writes.
    Made with fresh connections and dropped with a fresh one: a crash of MySQL in between must
    not leave the table behind."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.table = canary.canary_name()
        self.prefix = f"{canary.REDIS_PREFIX}:{canary.RUNNER}:{os.getpid()}:{secrets.token_hex(4)}:"
        self._seq = 0
        self._lock = threading.Lock()
        self.created = False

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def create(self) -> None:
        connection = mysql_writer(self.target, timeout=10)
        try:
            canary.sweep_tables(connection)
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE TABLE `{self.table}` (id BIGINT AUTO_INCREMENT PRIMARY KEY, "
                               "seq BIGINT NOT NULL, v VARCHAR(64) NOT NULL, KEY (seq))")
        finally:
            connection.close()
        with contextlib.suppress(Exception):
            canary.sweep_keys(self.target.redis(timeout=2, single_attempt=True))
        self.created = True

    def drop(self) -> list[str]:
        """Remove the table and every key under the prefix; returns what could not be removed."""
        problems = []
        if self.created:
            try:
                connection = mysql_writer(self.target, timeout=10)
                try:
                    with connection.cursor() as cursor:
                        cursor.execute(f"DROP TABLE IF EXISTS `{self.table}`")
                finally:
                    connection.close()
            except Exception as error:
                problems.append(f"canary table {self.table}: {type(error).__name__}: {error}")
        if not self.target.profile.services.cache:
            return problems
        try:
            client = self.target.redis(timeout=2, single_attempt=True)
            keys = list(client.scan_iter(match=self.prefix + "*", count=500))
            if keys:
                client.delete(*keys)
        except Exception as error:
            problems.append(f"canary keys {self.prefix}*: {type(error).__name__}: {error}")
        return problems


def mysql_writer(target: Target, timeout: float, database: str | None = None) -> Any:
    """A connection of the application's account (canary writes need one that may write, also
    where the profile gives a read-only account for live reads), autocommit on."""
    cfg = target.profile.database
    db = target.profile.services.database
    connection = target.mysql(user=target.variable(cfg.user_env, db), password=target.variable(cfg.password_env, db),
                              database=database, timeout=timeout, read_timeout=timeout)
    connection.autocommit(True)
    return connection


def mysql_roundtrip(target: Target, table: str, seq: int, timeout: float = 2.0) -> None:
    """Write a canary row and read it back, on a fresh connection; raises on any failure."""
    value = secrets.token_hex(8)
    connection = mysql_writer(target, timeout)
    try:
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO `{table}` (seq, v) VALUES (%s, %s)", (seq, value))
            cursor.execute(f"SELECT v FROM `{table}` WHERE seq = %s", (seq,))
            row = cursor.fetchone()
        if not row or row[0] != value:
            raise RuntimeError(f"canary row {seq} read back as {row!r}, wrote {value!r}")
    finally:
        connection.close()


def redis_roundtrip(target: Target, prefix: str, seq: int, timeout: float = 2.0) -> None:
    value = secrets.token_hex(8)
    client = target.redis(timeout=timeout, single_attempt=True)
    try:
        client.set(f"{prefix}steady:{seq}", value, ex=3600)
        seen = client.get(f"{prefix}steady:{seq}")
        if seen != value:
            raise RuntimeError(f"canary key {prefix}steady:{seq} read back as {seen!r}, wrote {value!r}")
    finally:
        client.close()


def api_writes_allowed(target: Target) -> bool:
    """The API has a write route ([absent] parts api_writes says not) and may use it here."""
    return stores_documents(target.profile.absent) and (
        target.kind == "ephemeral" or target.profile.chaos.api_write_on_live)


def api_roundtrip(backend: Backend, timeout: float = 5.0) -> None:
    """POST a canary document through the backend, then GET it back (backend -> MySQL, Redis)."""
    cfg = backend.target.profile.chaos
    marker = f"stackprobe chaos canary {secrets.token_hex(6)}"
    created = backend.request("POST", cfg.api_write_path, timeout, json=write_body(cfg, marker))
    if not 200 <= created.status < 300:
        raise RuntimeError(f"POST {cfg.api_write_path} answered {created.status or created.error}")
    ident = id_in(cfg, created.body)
    if ident is None:
        raise RuntimeError(f"POST {cfg.api_write_path} answered {created.status} without an id at "
                           f"{cfg.api_write_id_field!r}: set [chaos] api_write_id_field")
    read = backend.request("GET", cfg.api_read_path.replace("{id}", ident), timeout)
    # the same text for every try that fails alike (no id in it): the callers count them
    if read.status != 200:
        raise RuntimeError(f"GET {cfg.api_read_path} answered {read.status or read.error}")
    if marker not in str(read.body):
        raise RuntimeError(f"GET {cfg.api_read_path} answered 200 without the document just written")


def api_probe(backend: Backend, timeout: float = 5.0) -> HttpAnswer:
    """A read through the backend's own pooled clients (read-only on every target)."""
    return backend.request("GET", backend.target.profile.chaos.api_probe_path, timeout)


def api_probe_ok(backend: Backend, answer: HttpAnswer) -> bool:
    return answer.status in backend.target.profile.chaos.api_probe_ok


def write_probe(target: Target, service: str, canary_objects: Canary, backend: Backend) -> Callable[[], None] | None:
    """The first write through `service` after a fault: a canary row (database), a canary key
    (cache), an API write (backend, where allowed); None where there is no such write."""
    roles = target.profile.services
    if service == roles.database:
        return lambda: mysql_roundtrip(target, canary_objects.table, canary_objects.next_seq())
    if service == roles.cache:
        return lambda: redis_roundtrip(target, canary_objects.prefix, canary_objects.next_seq())
    if service == roles.backend and api_writes_allowed(target):
        return lambda: api_roundtrip(backend)
    return None
