"""The contract probe: the deployment's backup and restore commands are verified, not trusted.

Before any backup check judges anything, the backup command runs once as the suite runs it
(a scratch directory through `[backup] dir_var`, a canary database through `database_var`, no
file archives) and the restore command restores that dump into a second canary database. The
deployment's directory (project_dir, the compose files' directories and the backup directory
`[backup] dir`) is read before and after each, by path and SHA-256 (stackprobe.targets.snapshot).
A command that wrote anywhere else, or ignored a variable it was given (nothing in the
directory, a dump of another database, archives it was told not to make, a restore that did
not land in the database it was given), breaks the contract every check relies on: the suite
then stops with one line naming the files it left and the variables it ignored.

What a command left is never silently left: the line names it. A live deployment's files are
never deleted here (they are the user's to look at); an ephemeral copy's are removed again.
A command that cannot be run at all (missing, not executable, an interpreter the host lacks)
is one line too, found before anything runs.
"""

from __future__ import annotations

import contextlib
import fnmatch
import posixpath
import shlex
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from stackprobe.backup.dumpfile import DumpInfo, inspect_dump
from stackprobe.backup.newest import backup_directory
from stackprobe.backup.procedure import BackupRun, Procedure
from stackprobe.canary import scratch_database
from stackprobe.commands import CommandRun
from stackprobe.profile import BackupSection
from stackprobe.targets.base import Target
from stackprobe.targets.host import Host, unrunnable
from stackprobe.targets.snapshot import Changes, Snapshot, compare, inside, take

MARKER_TABLE = "stackprobe_contract_marker"
# written by Python itself on import (by this run's other processes too), never by a command
ALWAYS_IGNORED = ("*/__pycache__", "*/__pycache__/*")
MAX_STRAY_DUMPS_READ = 2


def watched_roots(target: Target) -> list[str]:
    """The deployment's directory: project_dir, each compose file's directory and the backup
    directory, without one that lies inside another."""
    found = [str(target.project_dir), *(posixpath.dirname(str(f)) for f in target.compose_files),
             backup_directory(target)]
    roots: list[str] = []
    for path in sorted({posixpath.normpath(p) for p in found if p}, key=len):
        if not any(inside(path, root) for root in roots):
            roots.append(path)
    return roots


def writable_binds(target: Target) -> list[str]:
    """Host paths the stack's containers write through bind mounts: the stack's own writes, not
    the command's (they change while it runs), so the snapshot does not read them."""
    found = []
    with contextlib.suppress(Exception):  # no engine answer: nothing to leave out
        for container in target.containers():
            for mount in container.attrs.get("Mounts") or []:
                if mount.get("Type") == "bind" and mount.get("RW", True) and mount.get("Source"):
                    found.append(str(mount["Source"]))
    return found


@dataclass
class Watch:
    """Snapshots of the watched roots, taken the same way each time."""

    host: Host
    roots: list[str]
    prune: list[str]
    max_files: int
    hash_bytes: int
    hidden_dirs: bool = False

    def take(self) -> list[Snapshot]:
        return [take(self.host, root, prune=self.prune, max_files=self.max_files, hash_bytes=self.hash_bytes,
                     hidden_dirs=self.hidden_dirs) for root in self.roots]


def stray(before: Sequence[Snapshot], after: Sequence[Snapshot], allowed: Iterable[str],
          ignore: Sequence[str] = ()) -> list[Changes]:
    """What changed under the roots outside the `allowed` places; `ignore` are globs of paths
    the deployment changes by itself (all absolute)."""
    places = [posixpath.normpath(p) for p in allowed]

    def counts(path: str) -> bool:
        if any(inside(path, place) or inside(place, path) for place in places):
            return False
        return not any(fnmatch.fnmatchcase(path, glob) or inside(path, glob) for glob in ignore)

    found = []
    for old, new in zip(before, after, strict=True):
        changes = compare(old, new)
        keep = [p for p in (*changes.new, *changes.changed, *changes.removed)
                if counts(posixpath.join(changes.root, p))]
        if keep:
            found.append(Changes(changes.root, tuple(p for p in changes.new if p in keep),
                                 tuple(p for p in changes.changed if p in keep),
                                 tuple(p for p in changes.removed if p in keep),
                                 tuple(p for p in changes.new_dirs if counts(posixpath.join(changes.root, p)))))
    return found


@dataclass
class Contract:
    """What the probe saw, and the one line that stops the suite when the contract is broken."""

    command: list[str]
    restore_command: list[str]
    live: bool
    unrunnable: str = ""
    roots: list[str] = field(default_factory=list)
    coverage: list[dict[str, Any]] = field(default_factory=list)
    directory: str = ""
    database: str = ""
    backup: BackupRun | None = None
    dump: DumpInfo | None = None
    stray_dumps: list[DumpInfo] = field(default_factory=list)
    backup_stray: list[Changes] = field(default_factory=list)
    restore: CommandRun | None = None
    restored_database: str = ""
    restore_landed: bool | None = None
    restore_stray: list[Changes] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    restore_ignored: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def problem(self) -> str:
        if self.unrunnable:
            return self.unrunnable
        return message(self.command, self.restore_command, self.backup_stray, self.restore_stray, self.ignored,
                       self.restore_ignored, self.live)

    def left(self) -> list[str]:
        """Absolute paths of what the commands left (new or changed) outside their places."""
        return [posixpath.join(c.root, p) for c in (*self.backup_stray, *self.restore_stray)
                for p in (*c.new, *c.changed)]

    def summary(self) -> dict[str, Any]:
        return {
            "command": shlex.join(self.command), "restore_command": shlex.join(self.restore_command),
            "unrunnable": self.unrunnable, "watched": self.roots, "snapshots": self.coverage,
            "directory": self.directory, "database": self.database,
            "backup": self.backup.summary() if self.backup else None,
            "dump": self.dump.summary() if self.dump else None,
            "stray_dumps": [d.summary() for d in self.stray_dumps],
            "backup_wrote_outside": [c.summary() for c in self.backup_stray],
            "restore": self.restore.summary() if self.restore else None,
            "restored_database": self.restored_database, "restore_landed": self.restore_landed,
            "restore_wrote_outside": [c.summary() for c in self.restore_stray],
            "ignored": self.ignored, "restore_ignored": self.restore_ignored, "stray_files_removed": self.removed,
            "stray_files_left": self.left() if self.live else [],
            "problem": self.problem, "probe_s": round(self.seconds, 2),
        }


def _where(changes: Sequence[Changes], live: bool) -> str:
    said = "; ".join(f"{c.count} in {c.root}: {c.describe()}" for c in changes)
    kept = ("left in place: a live deployment's files are never deleted here; look at them, then remove them"
            if live else "removed again: an ephemeral copy's")
    return f"{said} ({kept})"


def _said(role: str, argv: Sequence[str], place: str, strays: Sequence[Changes], ignored: Sequence[str],
          live: bool) -> list[str]:
    """What one command did wrong, for the one line."""
    name = f"the {role} command `{shlex.join(argv)}`"
    parts = [f"{name} wrote outside {place}: {_where(strays, live)}"] if strays else []
    if ignored:
        parts.append(f"{'it' if strays else name} ignored {' and '.join(ignored)}")
    return parts


def message(command: Sequence[str], restore_command: Sequence[str], backup_stray: Sequence[Changes],
            restore_stray: Sequence[Changes], ignored: Sequence[str], restore_ignored: Sequence[str],
            live: bool) -> str:
    """One line: what each command wrote outside its places and which variables it ignored, and
    the fix; empty when the contract holds."""
    parts = [*_said("backup", command, "the directory it was given", backup_stray, ignored, live),
             *_said("restore", restore_command, "the scratch directory", restore_stray, restore_ignored, live)]
    if not parts:
        return ""
    return ("the deployment's commands do not keep the backup suite's contract, so no backup check can be judged: "
            + "; ".join(parts) + ": make them write only where the suite's variables say (and dump the database "
            "they are given), or name the variables they do read in [backup] dir_var / database_var / files_var")


def ignored_variables(cfg: BackupSection, run: BackupRun, database: str, dump: DumpInfo | None,
                      stray_dumps: Sequence[DumpInfo]) -> list[str]:
    """The variables the backup command was given and did not follow, each with what was seen."""
    found = []
    new = run.new_files
    if cfg.dir_var and not new and (run.run.exit_code == 0 or stray_dumps):
        found.append(f"{cfg.dir_var} (nothing was written to {run.directory})")
    dumped = dump if dump is not None else (stray_dumps[0] if stray_dumps else None)
    if cfg.database_var and dumped is not None and dumped.intact and dumped.database not in (None, database):
        found.append(f"{cfg.database_var} (it dumped {dumped.database!r}, not the canary {database!r} it was given)")
    archives = [e.name for entries in run.archives.values() for e in entries]
    if cfg.files_var and archives:
        found.append(f"{cfg.files_var}=0 (it archived files all the same: {', '.join(archives[:3])})")
    return found


def _remove_new(host: Host, changes: Sequence[Changes]) -> list[str]:
    removed = []
    for found in changes:
        for path in found.topmost_new():
            full = posixpath.join(found.root, path)
            host.run(["rm", "-rf", "--", full], timeout=120)
            removed.append(full)
    return removed


def _has_marker(target: Target, database: str) -> bool:
    with contextlib.closing(target.mysql_root("")) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = %s",
                       (database, MARKER_TABLE))
        row = cursor.fetchone()
        return bool(row and row[0])


def watched_backup(found: Contract, procedure: Procedure, host: Host, watch: Watch,
                   ignore: Sequence[str] = ()) -> list[Snapshot]:
    """The backup command run once into `found.directory` with `found.database`, watched: what
    it left outside the directory, the dump it made (or the stray one), the variables it
    ignored, all in `found`; returns the snapshots after it."""
    cfg = procedure.cfg
    before = watch.take()
    run = found.backup = procedure.backup(found.directory, database=found.database, files=False)
    after = watch.take()
    found.coverage = [s.summary() for s in after]
    found.backup_stray = stray(before, after, [found.directory], ignore)
    dumps = sorted(run.dumps, key=lambda e: (e.mtime, e.name))
    if dumps:
        found.dump = inspect_dump(host, run.path(dumps[-1]))
    stray_dumps = [posixpath.join(c.root, p) for c in found.backup_stray for p in c.new
                   if fnmatch.fnmatchcase(posixpath.basename(p), cfg.dump_pattern)]
    found.stray_dumps = [inspect_dump(host, path) for path in stray_dumps[:MAX_STRAY_DUMPS_READ]]
    found.ignored = ignored_variables(cfg, run, found.database, found.dump, found.stray_dumps)
    return after


def probe(target: Target, host: Host, procedure: Procedure, scratch: str, prune: Iterable[str] = ()) -> Contract:
    """Run the backup command (and the restore command on its dump) once, watched."""
    cfg = target.profile.backup
    started = time.monotonic()
    found = Contract(list(cfg.command), list(cfg.restore_command), target.kind == "live")
    found.unrunnable = unrunnable(host, cfg.command, procedure.project_dir, "[backup] command")
    if not found.unrunnable and cfg.restore_command:
        found.unrunnable = unrunnable(host, cfg.restore_command, procedure.project_dir, "[backup] restore_command")
    if found.unrunnable:
        return found
    found.roots = watched_roots(target)
    watch = Watch(host, found.roots, [*writable_binds(target), *prune, scratch], cfg.contract_max_files,
                  cfg.contract_hash_mb * 1024 * 1024, cfg.contract_hidden_dirs)
    found.directory = posixpath.join(scratch, "contract")
    connect = lambda: target.mysql_root("")  # noqa: E731
    with contextlib.ExitStack() as stack:
        found.database = stack.enter_context(scratch_database(connect))
        with contextlib.closing(target.mysql_root(found.database)) as connection, connection.cursor() as cursor:
            cursor.execute(f"CREATE TABLE `{MARKER_TABLE}` (id INT PRIMARY KEY, note VARCHAR(64))")
            cursor.execute(f"INSERT INTO `{MARKER_TABLE}` VALUES (1, 'stackprobe contract probe')")
            connection.commit()
        ignore = [*ALWAYS_IGNORED, *(g if posixpath.isabs(g) else posixpath.join(procedure.project_dir, g)
                                      for g in cfg.contract_ignore)]
        after = watched_backup(found, procedure, host, watch, ignore)
        run = found.backup
        assert run is not None
        if (cfg.restore_command and run.run.exit_code == 0 and found.dump is not None
                and found.dump.complete and found.dump.database == found.database):
            found.restored_database = stack.enter_context(scratch_database(connect, create=False))
            found.restore = procedure.restore(found.dump.path, found.restored_database)
            restored = watch.take()
            found.restore_stray = stray(after, restored, [found.directory], ignore)
            if found.restore.exit_code == 0:
                found.restore_landed = _has_marker(target, found.restored_database)
                if not found.restore_landed:
                    found.restore_ignored.append(
                        f"{{database}} (it exited 0, but the canary {found.restored_database!r} it was given holds "
                        f"no {MARKER_TABLE} table after it)")
        host.run(["rm", "-rf", "--", found.directory], timeout=120)
    if not found.live:
        found.removed = _remove_new(host, [*found.backup_stray, *found.restore_stray])
    found.seconds = time.monotonic() - started
    return found
