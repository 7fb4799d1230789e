"""The schema the deploy suite compares: migration revisions (alembic current against heads),
a schema fingerprint, and per-table checksums (the backup suite's)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from stackprobe import keyed
from stackprobe.backup import checksums
from stackprobe.targets.base import Target

_REVISION_LINE = re.compile(r"^([0-9A-Za-z_]+)((?: \([a-z ]+\))*)\s*$")


def revisions(output: str) -> set[str]:
    """Revision ids in `alembic heads` / `alembic current` output (log lines ignored)."""
    found = set()
    for line in output.splitlines():
        match = _REVISION_LINE.match(line.strip())
        if match and not line.startswith(("INFO", "WARN", "ERROR")):
            found.add(match.group(1))
    return found


@dataclass(frozen=True)
class MigrationState:
    current: set[str]
    heads: set[str]
    current_output: str
    heads_output: str
    current_exit: int
    heads_exit: int

    @property
    def at_head(self) -> bool:
        return self.current_exit == 0 and self.heads_exit == 0 and bool(self.heads) and self.current == self.heads

    def as_evidence(self) -> dict[str, Any]:
        return {"current": sorted(self.current), "heads": sorted(self.heads),
                "current_exit": self.current_exit, "heads_exit": self.heads_exit,
                "current_output": self.current_output[-800:], "heads_output": self.heads_output[-800:]}

    def problem(self) -> str:
        if self.heads_exit != 0 or not self.heads:
            return f"could not read the migration heads (exit {self.heads_exit}): {self.heads_output[-300:]}"
        if self.current_exit != 0:
            return f"could not read the current revision (exit {self.current_exit}): {self.current_output[-300:]}"
        return (f"schema at {sorted(self.current) or 'no revision'}, migration head is {sorted(self.heads)}: "
                "run the migrations ([stack] migrate_command) as the deploy flow does")


def migration_state(target: Target) -> MigrationState:
    """`alembic current` against `alembic heads`, both run in the backend container (read-only)."""
    backend = target.service(target.profile.services.backend)
    current = backend.exec(target.profile.deploy.migration_current_command)
    heads = backend.exec(target.profile.database.migration_heads_command)
    return MigrationState(revisions(current.output), revisions(heads.output), current.output, heads.output,
                          current.exit_code, heads.exit_code)


# --- the database: schema and data -------------------------------------------------------------
_AUTO_INCREMENT = re.compile(r" AUTO_INCREMENT=\d+")


def schema_fingerprint(target: Target) -> dict[str, Any]:
    """Table definitions (counters stripped), triggers, routines, the migration table's rows,
    per-table row counts and content checksums of the app database: what a migration run may
    change (a data step that rewrites rows keeps the count and changes the content)."""
    table = target.profile.database.migration_table
    fingerprint: dict[str, Any] = {"tables": {}, "rows": {}, "versions": [], "triggers": [], "routines": []}
    with target.mysql() as connection, connection.cursor() as cursor:
        cursor.execute("SHOW FULL TABLES")
        for name, kind in sorted(cursor.fetchall()):
            cursor.execute(f"SHOW CREATE TABLE `{name}`" if kind == "BASE TABLE" else f"SHOW CREATE VIEW `{name}`")
            fingerprint["tables"][name] = _AUTO_INCREMENT.sub("", cursor.fetchone()[1])
            if kind == "BASE TABLE" and name == table:
                cursor.execute(f"SELECT * FROM `{table}` ORDER BY 1")
                fingerprint["versions"] = [list(row) for row in cursor.fetchall()]
        cursor.execute("SELECT trigger_name, action_statement FROM information_schema.triggers "
                       "WHERE trigger_schema = DATABASE() ORDER BY 1")
        fingerprint["triggers"] = [list(row) for row in cursor.fetchall()]
        cursor.execute("SELECT routine_name, routine_type, routine_definition FROM information_schema.routines "
                       "WHERE routine_schema = DATABASE() ORDER BY 1, 2")
        fingerprint["routines"] = [list(row) for row in cursor.fetchall()]
        # Last: the checksums set the session's time zone to UTC.
        fingerprint["content"] = _content_checksums(connection)
    fingerprint["rows"] = {name: sums["rows"] for name, sums in fingerprint["content"].items()}
    return fingerprint


def fingerprint_changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What differs between two fingerprints, one line each."""
    changes = []
    for part in ("tables", "rows"):
        old, new = before[part], after[part]
        for name, change in keyed.changes(old, new):
            if change == "changed":
                changes.append(f"table {name}: rows {old[name]} -> {new[name]}" if part == "rows"
                               else f"table {name}: definition changed")
            else:
                changes.append(f"{part[:-1]} {name} {'disappeared' if change == 'gone' else 'appeared'}")
    old_content, new_content = before.get("content", {}), after.get("content", {})
    for name in sorted(set(old_content) & set(new_content)):
        was, now = old_content[name], new_content[name]
        if was != now and was.get("rows") == now.get("rows"):  # a count change is reported above
            changes.append(f"table {name}: same {now.get('rows')} rows, content changed")
    for part in ("versions", "triggers", "routines"):
        if before[part] != after[part]:
            changes.append(f"{part}: {before[part]} -> {after[part]}")
    return changes


def table_checksums(target: Target) -> dict[str, dict[str, Any]]:
    """table -> {rows, xor, sum} for every base table of the app database: the backup suite's
    row-hash checksums (not CHECKSUM TABLE, whose value depends on the row format)."""
    with target.mysql() as connection:
        return _content_checksums(connection)


def _content_checksums(connection: Any) -> dict[str, dict[str, Any]]:
    """The backup suite's checksums of every base table of the connection's database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT DATABASE()")
        database = str(cursor.fetchone()[0])
    return checksums.as_evidence(checksums.table_checksums(connection, database))
