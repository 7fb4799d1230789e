"""What a dump file is, read on its host in one streaming pass (a production dump of gigabytes
is never copied here): intact gzip, complete (mysqldump's trailer), which database its header
names, which tables it creates, whether it switches database itself (`USE`/`CREATE DATABASE`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from stackprobe.targets.host import Host

TRAILER = "-- Dump completed"
# one pass: the header comments, every CREATE TABLE line, statements naming a database, and
# the last line; `set -o pipefail` makes a broken gzip stream fail the whole pipeline
INSPECT_SCRIPT = r"""set -o pipefail
case "$1" in *.gz) reader="gzip -dc --" ;; *) reader="cat --" ;; esac
$reader "$1" | awk '
NR <= 40 && /^-- / { print "H\t" substr($0, 1, 300) }
/^CREATE TABLE / { print "T\t" substr($0, 1, 300) }
/^(USE|CREATE DATABASE) / { print "D\t" substr($0, 1, 300) }
{ last = $0 }
END { print "L\t" substr(last, 1, 300) }'
"""
_HEADER_DATABASE = re.compile(r"Database:\s*(\S+)")
_TABLE = re.compile(r"^CREATE TABLE (?:IF NOT EXISTS )?`((?:[^`]|``)+)`")


@dataclass(frozen=True)
class DumpInfo:
    path: str
    exit_code: int
    error: str  # what the reader said, when the stream is broken
    header: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    database_statements: list[str] = field(default_factory=list)
    last_line: str = ""

    @property
    def intact(self) -> bool:
        return self.exit_code == 0

    @property
    def complete(self) -> bool:
        return self.intact and self.last_line.startswith(TRAILER)

    @property
    def database(self) -> str | None:
        """The database the header names (`-- Host: h    Database: NAME`)."""
        for line in self.header:
            found = _HEADER_DATABASE.search(line)
            if found:
                return found.group(1)
        return None

    @property
    def producer(self) -> str:
        return next((line[3:].strip() for line in self.header if line.lower().endswith(" dump")
                     or " dump " in line.lower()), "")

    def problems(self, database: str | None = None, tables: list[str] | None = None) -> list[str]:
        """What is wrong with it as a backup of `database` holding `tables`, one line each."""
        found = []
        if not self.intact:
            found.append(f"not an intact gzip stream ({self.error or f'reader exited {self.exit_code}'})")
        elif not self.complete:
            found.append(f"incomplete: the last line is {self.last_line[:80]!r}, not mysqldump's "
                         f"'{TRAILER} ...' trailer (cut short, or not a mysqldump)")
        if self.database_statements:
            found.append(f"it switches database itself ({self.database_statements[0][:80]!r}: made with "
                         "--databases/--all-databases?); a restore would write where it says, not into the target")
        if database is not None and self.intact and self.database != database:
            found.append(f"it is a dump of database {self.database!r} (its header), not of {database!r}")
        if tables is not None and self.intact:
            missing = sorted(set(tables) - set(self.tables))
            if missing:
                found.append(f"{len(missing)} of {len(tables)} tables are not in it: {', '.join(missing[:10])}")
        return found

    def summary(self) -> dict[str, Any]:
        return {"path": self.path, "intact_gzip": self.intact, "complete": self.complete,
                "error": self.error, "database": self.database, "producer": self.producer,
                "tables": self.tables, "names_a_database": self.database_statements[:3],
                "last_line": self.last_line[:120]}


def parse_inspection(path: str, exit_code: int, stdout: str, stderr: str) -> DumpInfo:
    header, tables, statements, last = [], [], [], ""
    for line in stdout.splitlines():
        kind, _, text = line.partition("\t")
        if kind == "H":
            header.append(text)
        elif kind == "T":
            match = _TABLE.match(text)
            if match:
                tables.append(match.group(1).replace("``", "`"))
        elif kind == "D":
            statements.append(text)
        elif kind == "L":
            last = text
    # One line whatever the reader printed: every whitespace run (any kind of line break) is one
    # space, control characters go, and every gzip message loses its path (gzip may print
    # several for one corrupt stream, e.g. a crc error and then a length error).
    error = " ".join("".join(c if c.isprintable() else " " for c in stderr).split())
    error = re.sub(r"gzip: [^:]+: ", "gzip: ", error)[:300]
    return DumpInfo(path, exit_code, error, header, tables, statements, last)


def inspect_dump(host: Host, path: str, timeout: float = 600.0) -> DumpInfo:
    done = host.run(["bash", "-c", INSPECT_SCRIPT, "inspect", path], timeout=timeout)
    return parse_inspection(path, done.exit_code, done.stdout, done.stderr)
