"""MySQL connections that do not rebuild a TLS context every time.

PyMySQL 1.2 tries TLS on every connection where no TLS option is given (its PREFERRED mode), and
builds that TLS context afresh each time: the system's CA bundle is read and parsed again, about
20 ms of CPU. The suite opens a fresh connection per canary write and per health-style probe, so
on a loaded host that cost becomes noise in the very timings it takes. The context holds no state
of one connection, so one per process serves them all; explicit TLS options are left as asked.
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable
from typing import Any

import pymysql

_lock = threading.Lock()
_preferred: ssl.SSLContext | None = None


class _Connection(pymysql.connections.Connection):
    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        global _preferred
        build: Callable[[Any], ssl.SSLContext] = super()._create_ssl_ctx  # type: ignore[misc]  # not in the stubs
        if sslp:  # TLS options the caller chose: build what they ask for
            return build(sslp)
        with _lock:
            if _preferred is None:
                _preferred = build(sslp)
            return _preferred


def connect(**kwargs: Any) -> pymysql.connections.Connection[Any]:
    """pymysql.connect, with the PREFERRED mode's TLS context built once per process."""
    return _Connection(**kwargs)
