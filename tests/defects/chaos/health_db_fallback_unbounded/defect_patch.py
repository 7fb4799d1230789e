"""Defect: the database probe rides out "DNS hiccups": when MySQL's name does not resolve, it
asks the connection it already holds instead, and that connection has no read timeout; the
endpoint awaits that ask without a bound (the probe itself keeps the reference's bound).

- stopped or crashed MySQL: the held connection was closed by the server, so the ask fails at
  once and health answers 503 promptly;
- paused or slowed MySQL: the name resolves, and the bounded probe answers;
- partitioned MySQL: the name is gone and the held connection is silently black-holed, so the
  ask (and every one queued behind it) hangs for as long as the partition lasts.
"""

import socket
import threading

from sitecustomize import after_import


def patch(health):  # type: ignore[no-untyped-def]
    import asyncio

    import pymysql

    s = health.settings
    fresh_probe = health.PROBES["database"]
    lock = threading.Lock()
    held: list = []  # the one connection this process keeps (per uvicorn worker)

    def ask_held() -> None:
        with lock:
            if not held:
                raise RuntimeError("no connection held")
            try:
                held[0].ping(reconnect=False)
            except Exception:
                held.clear()
                raise

    bounded = health._run

    async def run(name, probe):  # type: ignore[no-untyped-def]
        if name != "database":
            return await bounded(name, probe)
        unresolved: list = []

        def fresh() -> None:
            try:
                fresh_probe()
            except pymysql.err.OperationalError as error:
                if isinstance(getattr(error, "original_exception", None), socket.gaierror):
                    unresolved.append(error)
                raise
            with lock:
                if not held:  # no read timeout: it is "only a ping"
                    held.append(pymysql.connect(host=s.mysql_host, port=s.mysql_port, user=s.mysql_user,
                                                password=s.mysql_password, database=s.mysql_database,
                                                connect_timeout=2))

        result = await bounded(name, fresh)
        if not unresolved:
            return result
        try:  # the name did not resolve: ask the held connection, as long as it takes
            await asyncio.to_thread(ask_held)
            return name, None
        except Exception as error:
            return name, f"{type(error).__name__}: {error}"

    health._run = run


after_import("app.health", patch)
