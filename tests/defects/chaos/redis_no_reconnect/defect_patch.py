"""Defect: the cache client connects once, at start-up, and never again. After Redis restarts,
every cache call fails; health (which probes Redis with a fresh client of its own) still says 200."""

import contextlib

from sitecustomize import after_import


def patch(cache_module):  # type: ignore[no-untyped-def]
    import redis

    class ConnectOnce(redis.Connection):
        used = False  # per process: each uvicorn worker connects once

        def connect(self):  # type: ignore[no-untyped-def]
            if self._sock:
                return
            if ConnectOnce.used:
                raise redis.ConnectionError("the cache client connects once, at start-up, and never reconnects")
            super().connect()
            ConnectOnce.used = True

    s = cache_module.settings
    pool = redis.BlockingConnectionPool(connection_class=ConnectOnce, max_connections=1, timeout=5,
                                        host=s.redis_host, port=s.redis_port, password=s.redis_password or None,
                                        socket_timeout=3, socket_connect_timeout=3, decode_responses=True)
    cache_module.cache = redis.Redis(connection_pool=pool)
    with contextlib.suppress(redis.RedisError):
        cache_module.cache.ping()  # the one connection, made at start-up


after_import("app.cache", patch)
