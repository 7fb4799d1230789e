"""Schema objects of a database by definition: tables, views, routines, triggers, events.

Each object's definition is what the server itself prints for it (`SHOW CREATE ...`), plus the
sql_mode and character set it was created with, normalised only where two correct copies must
differ: the AUTO_INCREMENT counter of a table and the name of the database the object is in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stackprobe.backup.checksums import quote

KINDS = ("table", "view", "function", "procedure", "trigger", "event")
_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


@dataclass(frozen=True)
class SchemaObject:
    kind: str
    name: str
    definition: str

    @property
    def key(self) -> str:
        return f"{self.kind} {self.name}"


def normalise(definition: str, database: str) -> str:
    text = _AUTO_INCREMENT.sub("", definition)
    return text.replace(quote(database) + ".", "`{database}`.")


def _definition(cursor: Any, statement: str) -> str:
    """The 'Create ...' (or a trigger's 'SQL Original Statement') column, with the settings
    the object was created under (sql_mode, time_zone, client character set and collation) when
    the server gives them. Not the 'Database Collation': that belongs to the database the object
    is in (the restore target, which the restore command creates), not to the object."""
    cursor.execute(statement)
    row = cursor.fetchone()
    if row is None:
        return ""
    names = [str(d[0]) for d in cursor.description]
    parts: list[str] = []
    for name, value in zip(names, row, strict=False):
        lowered = name.lower()
        if lowered.startswith("create ") or lowered == "sql original statement":
            parts.insert(0, str(value))
        elif lowered in {"sql_mode", "time_zone", "character_set_client", "collation_connection"}:
            parts.append(f"{lowered}={value}")
    return "\n".join(parts)


def schema_objects(connection: Any, database: str) -> dict[str, SchemaObject]:
    """key ("table t", "trigger tr", ...) -> object, for every object of `database`."""
    found: dict[str, SchemaObject] = {}
    db = quote(database)
    with connection.cursor() as cursor:
        cursor.execute("SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = %s "
                       "ORDER BY TABLE_NAME", (database,))
        for name, kind in cursor.fetchall():
            is_view = kind == "VIEW"
            statement = f"SHOW CREATE {'VIEW' if is_view else 'TABLE'} {db}.{quote(name)}"
            found_kind = "view" if is_view else "table"
            found[f"{found_kind} {name}"] = SchemaObject(found_kind, str(name), _definition(cursor, statement))
        cursor.execute("SELECT ROUTINE_NAME, ROUTINE_TYPE FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = %s "
                       "ORDER BY ROUTINE_NAME", (database,))
        for name, kind in cursor.fetchall():
            statement = f"SHOW CREATE {kind} {db}.{quote(name)}"
            found[f"{kind.lower()} {name}"] = SchemaObject(kind.lower(), str(name), _definition(cursor, statement))
        cursor.execute("SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = %s "
                       "ORDER BY TRIGGER_NAME", (database,))
        for (name,) in cursor.fetchall():
            found[f"trigger {name}"] = SchemaObject("trigger", str(name),
                                                    _definition(cursor, f"SHOW CREATE TRIGGER {db}.{quote(name)}"))
        cursor.execute("SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = %s "
                       "ORDER BY EVENT_NAME", (database,))
        for (name,) in cursor.fetchall():
            found[f"event {name}"] = SchemaObject("event", str(name),
                                                  _definition(cursor, f"SHOW CREATE EVENT {db}.{quote(name)}"))
    return {key: SchemaObject(o.kind, o.name, normalise(o.definition, database)) for key, o in found.items()}


def object_differences(before: dict[str, SchemaObject], after: dict[str, SchemaObject],
                       kinds: tuple[str, ...] = KINDS) -> list[str]:
    """Objects of `kinds` missing, extra or defined differently after a restore, one line each."""
    found = []
    for key in sorted(set(before) | set(after)):
        obj = before.get(key) or after[key]
        if obj.kind not in kinds:
            continue
        if key not in after:
            found.append(f"{key} is missing after the restore")
        elif key not in before:
            found.append(f"{key} appeared after the restore")
        elif before[key].definition != after[key].definition:
            found.append(f"{key} is defined differently after the restore")
    return found


def counts(objects: dict[str, SchemaObject]) -> dict[str, int]:
    out = dict.fromkeys(KINDS, 0)
    for obj in objects.values():
        out[obj.kind] = out.get(obj.kind, 0) + 1
    return out
