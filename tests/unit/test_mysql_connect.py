"""stackprobe's MySQL connections build PyMySQL's default (PREFERRED) TLS context once per process,
and leave TLS options a caller gives as asked. No server needed: the context is built before connecting."""

from __future__ import annotations

import ssl

import pymysql

from stackprobe.targets import mysql_connect


def _unconnected(**tls: str) -> pymysql.connections.Connection:  # type: ignore[type-arg]
    return mysql_connect.connect(host="127.0.0.1", port=9, defer_connect=True, **tls)


def test_the_preferred_tls_context_is_built_once_and_still_preferred() -> None:
    first, second = _unconnected(), _unconnected()
    assert isinstance(first.ctx, ssl.SSLContext) and first.ctx is second.ctx
    # PREFERRED, as PyMySQL's own default: TLS is tried, a server without it is still accepted
    plain = pymysql.connect(host="127.0.0.1", port=9, defer_connect=True)
    assert (first.ssl, first._ssl_required) == (plain.ssl, plain._ssl_required) == (True, False)


def test_tls_options_a_caller_gives_get_a_context_of_their_own() -> None:
    asked = _unconnected(ssl_ca=ssl.get_default_verify_paths().openssl_cafile)
    assert asked.ctx is not _unconnected().ctx and asked._ssl_required

