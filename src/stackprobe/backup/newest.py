"""BKP-07/08 (and the newest-backup parts of BKP-01/10): the newest backup in the backup
directory, how old it is, what it is, and whether it restores into a scratch database.

On a live target that is the deployment's own directory (`[backup] dir`), only ever read. On an
ephemeral copy there is no history, so the suite makes one: the backup command run exactly as
a scheduled job runs it (no database, no directory override but a scratch one).
"""

from __future__ import annotations

import contextlib
import fnmatch
import posixpath
import time
from dataclasses import dataclass, field
from typing import Any

from stackprobe.backup import checksums
from stackprobe.backup.dumpfile import DumpInfo, inspect_dump
from stackprobe.backup.procedure import BackupRun, Procedure
from stackprobe.canary import scratch_database
from stackprobe.commands import CommandRun
from stackprobe.targets.base import Target
from stackprobe.targets.host import FileEntry, Host


def _hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h"


@dataclass
class Newest:
    directory: str
    configured: bool  # the deployment's own directory (else: one this run filled)
    database: str  # the app database a backup must be of
    now: float
    listing: list[FileEntry] | None = None
    made: BackupRun | None = None
    newest: FileEntry | None = None
    dump: DumpInfo | None = None
    restore: CommandRun | None = None
    restored_tables: list[str] | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def path(self) -> str | None:
        return posixpath.join(self.directory, self.newest.name) if self.newest else None

    @property
    def age_s(self) -> float | None:
        return self.now - self.newest.mtime if self.newest else None

    @property
    def restored(self) -> bool:
        return self.restore is not None and self.restore.exit_code == 0

    def artifacts(self, patterns: list[str]) -> list[FileEntry]:
        return [e for e in self.listing or [] if e.is_file and any(fnmatch.fnmatchcase(e.name, p) for p in patterns)]

    def summary(self) -> dict[str, Any]:
        return {
            "directory": self.directory, "configured_directory": self.configured, "database": self.database,
            "files": [e.describe() for e in self.listing or []][:50],
            "newest": self.newest.describe() if self.newest else None,
            "age_h": round(self.age_s / 3600, 2) if self.age_s is not None else None,
            "dump": self.dump.summary() if self.dump else None,
            "restore": self.restore.summary() if self.restore else None,
            "restored_tables": self.restored_tables,
            "made_for_this_run": self.made.summary() if self.made else None,
        }


def backup_directory(target: Target) -> str:
    configured = target.profile.backup.dir
    return configured if posixpath.isabs(configured) else posixpath.join(str(target.project_dir), configured)


def find_newest(target: Target, host: Host, procedure: Procedure, scratch: str,
                stack: contextlib.ExitStack) -> Newest:
    cfg = target.profile.backup
    database = target.database_name()
    if target.kind == "live":
        found = Newest(backup_directory(target), True, database, host.now())
    else:
        found = Newest(posixpath.join(scratch, "scheduled"), False, database, 0.0)
        found.made = procedure.backup(found.directory, files=False)
        found.now = host.now()
    found.listing = host.listdir(found.directory)
    where = f"{found.directory} on {host.label}"
    if found.listing is None:
        found.problems.append(
            f"no backup directory {where}: the backup job never ran there, or [backup] dir is wrong"
            + (f" (the backup command: {found.made.run.describe()})" if found.made else ""))
        return found
    dumps = sorted((e for e in found.listing if e.is_file and fnmatch.fnmatchcase(e.name, cfg.dump_pattern)),
                   key=lambda e: (e.mtime, e.name))
    if not dumps:
        others = ", ".join(e.name for e in found.listing[:5]) or "nothing"
        found.problems.append(f"no backup named {cfg.dump_pattern!r} in {where} (it holds: {others}): "
                              "is the backup job scheduled, and does [backup] dump_pattern match its files?")
        return found
    found.newest = dumps[-1]
    age = found.age_s or 0.0
    if age > cfg.rpo_s:
        stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(found.newest.mtime))
        found.problems.append(f"the newest backup {found.newest.name} is {_hours(age)} old (written {stamp}), "
                              f"older than the RPO of {_hours(cfg.rpo_s)}: the backup job has not run since")
    assert found.path is not None
    found.dump = inspect_dump(host, found.path)
    dump_problems = found.dump.problems(database=database)
    found.problems += [f"the newest backup {found.newest.name}: {p}" for p in dump_problems]
    if dump_problems:
        return found
    restored = stack.enter_context(scratch_database(lambda: target.mysql_root(""), create=False))
    found.restore = procedure.restore(found.path, restored)
    if found.restore.exit_code != 0:
        found.problems.append(f"the newest backup {found.newest.name} does not restore: {found.restore.describe()}")
        return found
    with contextlib.closing(target.mysql_root("")) as connection, connection.cursor() as cursor:
        found.restored_tables = checksums.base_tables(cursor, restored)
    missing = sorted(set(found.dump.tables) - set(found.restored_tables))
    if missing:
        found.problems.append(f"restoring {found.newest.name} gave {len(found.restored_tables)} tables; "
                              f"missing: {', '.join(missing[:10])}")
    return found
