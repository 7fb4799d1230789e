"""Canary objects: the only things a check may write on a live target.

A canary is a MySQL table or database, or a Redis key prefix, whose name says it is one and
which run made it: `stackprobe_canary_<runner>_<pid>_<hex>` (MySQL) and
`stackprobe:canary:<runner>:<pid>:<hex>:` (Redis), where <runner> is a short hash of the host
the suite runs on. Every context manager removes its canary in `finally`, so Ctrl-C and
SIGTERM (which the plugin turns into KeyboardInterrupt) leave nothing behind; a run killed
outright (SIGKILL) leaves its canaries, and the next canary made from the same runner first
removes those of runs whose process is gone (`sweep_*`). Nothing else is ever dropped or deleted.

Declare the write on the check for --dry-run: `@pytest.mark.writes("{database}: canary table")`.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
from collections.abc import Callable, Iterator
from typing import Any

from stackprobe.owners import RUNNER as RUNNER
from stackprobe.owners import owner_alive

PREFIX = "stackprobe_canary"
REDIS_PREFIX = "stackprobe:canary"
_NAME = re.compile(rf"^{PREFIX}_(?P<runner>[0-9a-f]{{6}})_(?P<pid>\d+)_[0-9a-f]+$")


def canary_name() -> str:
    """A MySQL identifier (< 64 characters) naming this run's new canary."""
    return f"{PREFIX}_{RUNNER}_{os.getpid()}_{secrets.token_hex(4)}"


def _orphaned(name: str) -> bool:
    """A canary of this runner whose run is gone (never another runner's, never a live run's)."""
    found = _NAME.match(name)
    return bool(found and found["runner"] == RUNNER and not owner_alive(int(found["pid"])))


def is_canary(name: str) -> bool:
    return name.startswith(PREFIX) or name.startswith(REDIS_PREFIX + ":")


# --- MySQL -------------------------------------------------------------------------------
def _like(connection: Any, query: str) -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(query, (PREFIX.replace("_", r"\_") + "%",))
        return [str(row[0]) for row in cursor.fetchall()]


def orphaned_tables(connection: Any) -> list[str]:
    """Canary tables of dead runs of this runner in the connection's current database."""
    return [name for name in _like(connection, "SELECT table_name FROM information_schema.tables WHERE "
                                               "table_schema = DATABASE() AND table_name LIKE %s") if _orphaned(name)]


DROP_TABLE = "DROP TABLE IF EXISTS `{name}`"
DROP_DATABASE = "DROP DATABASE IF EXISTS `{name}`"


def _drop(connection: Any, statement: str, names: list[str]) -> list[str]:
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(statement.replace("{name}", name))
    return names


def drop_tables(connection: Any, names: list[str]) -> list[str]:
    return _drop(connection, DROP_TABLE, names)


def sweep_tables(connection: Any) -> list[str]:
    """Drop canary tables of dead runs from the connection's current database."""
    return drop_tables(connection, orphaned_tables(connection))


@contextlib.contextmanager
def _canary(connection: Any, sweep: Callable[[Any], list[str]], create: str, drop: str) -> Iterator[str]:
    """A canary object of this run (`create`/`drop` name it `{name}`), made after the orphans of
    killed runs are swept, and dropped afterwards whatever happens."""
    sweep(connection)
    name = canary_name()
    with connection.cursor() as cursor:
        cursor.execute(create.replace("{name}", name))
    try:
        yield name
    finally:
        with connection.cursor() as cursor:
            cursor.execute(drop.replace("{name}", name))


def canary_table(connection: Any, columns: str = "id INT PRIMARY KEY, v VARCHAR(255)",
                 ) -> contextlib.AbstractContextManager[str]:
    """A table of this run in the connection's database; dropped afterwards whatever happens."""
    return _canary(connection, sweep_tables, f"CREATE TABLE `{{name}}` ({columns})", DROP_TABLE)


def orphaned_databases(connection: Any) -> list[str]:
    return [name for name in _like(connection, "SHOW DATABASES LIKE %s") if _orphaned(name)]


def drop_databases(connection: Any, names: list[str]) -> list[str]:
    return _drop(connection, DROP_DATABASE, names)


def sweep_databases(connection: Any) -> list[str]:
    return drop_databases(connection, orphaned_databases(connection))


def canary_database(connection: Any) -> contextlib.AbstractContextManager[str]:
    """A scratch database of this run (restores go here, never over live data); dropped afterwards."""
    return _canary(connection, sweep_databases, "CREATE DATABASE `{name}` CHARACTER SET utf8mb4", DROP_DATABASE)


@contextlib.contextmanager
def scratch_database(connect: Callable[[], Any], create: bool = True) -> Iterator[str]:
    """A canary database for a long-lived user (a session of checks): every statement on a
    fresh connection from `connect`, so the drop at the end does not depend on a connection
    kept open meanwhile. `create=False` only reserves the name, for a restore command that
    creates its target itself (and refuses an existing one); it is dropped all the same."""
    with contextlib.closing(connect()) as connection:
        sweep_databases(connection)
        name = canary_name()
        if create:
            with connection.cursor() as cursor:
                cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    try:
        yield name
    finally:
        with contextlib.closing(connect()) as connection:
            drop_databases(connection, [name])


# --- Redis -------------------------------------------------------------------------------
def _delete_prefix(client: Any, prefix: str) -> int:
    keys = list(client.scan_iter(match=prefix + "*", count=500))
    return int(client.delete(*keys)) if keys else 0


def orphaned_keys(client: Any) -> list[str]:
    """Canary keys of dead runs of this runner."""
    found = []
    for key in client.scan_iter(match=f"{REDIS_PREFIX}:{RUNNER}:*", count=500):
        text = key.decode() if isinstance(key, bytes) else str(key)
        pid = text.split(":")[3]
        if pid.isdigit() and not owner_alive(int(pid)):
            found.append(text)
    return found


def delete_keys(client: Any, keys: list[str]) -> list[str]:
    if keys:
        client.delete(*keys)
    return keys


def sweep_keys(client: Any) -> list[str]:
    return delete_keys(client, orphaned_keys(client))


@contextlib.contextmanager
def canary_keys(client: Any) -> Iterator[str]:
    """A key prefix of this run; every key under it is deleted afterwards whatever happens."""
    sweep_keys(client)
    prefix = f"{REDIS_PREFIX}:{RUNNER}:{os.getpid()}:{secrets.token_hex(4)}:"
    try:
        yield prefix
    finally:
        _delete_prefix(client, prefix)
