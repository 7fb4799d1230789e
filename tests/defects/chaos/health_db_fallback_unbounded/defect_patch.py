"""Defect: the database probe rides out "DNS hiccups": when MySQL's name does not resolve, it
checks the connection it already holds instead, and that connection has no read timeout; the
endpoint awaits the probe without a bound of its own (it trusts the probe's timeouts).

- stopped or crashed MySQL: the held connection was closed by the server, so the check fails at
  once and health answers 503 promptly;
- paused or slowed MySQL: the name resolves, the fresh connection's own timeouts answer;
- partitioned MySQL: the name is gone and the held connection is silently black-holed, so the
  check (and every probe queued behind it) hangs for as long as the partition lasts.
"""

import socket
import threading

from sitecustomize import after_import, await_unbounded


def patch(health):  # type: ignore[no-untyped-def]

    import pymysql

    s = health.settings
    fresh_probe = health.PROBES["database"]
    lock = threading.Lock()
    held: list = []  # the one connection this process keeps (per uvicorn worker)

    def probe() -> None:
        try:
            fresh_probe()
        except pymysql.err.OperationalError as error:
            if not isinstance(getattr(error, "original_exception", None), socket.gaierror):
                raise
            with lock:  # the name did not resolve: ask the connection already held
                if not held:
                    raise
                try:
                    held[0].ping(reconnect=False)
                except Exception:
                    held.clear()
                    raise
            return
        with lock:
            if not held:  # no read timeout: it is "only a ping"
                held.append(pymysql.connect(host=s.mysql_host, port=s.mysql_port, user=s.mysql_user,
                                            password=s.mysql_password, database=s.mysql_database,
                                            connect_timeout=2))

    health.PROBES["database"] = probe
    await_unbounded(health, "database")  # no wait_for: the probe is trusted to end by itself


after_import("app.health", patch)
