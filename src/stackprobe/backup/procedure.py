"""The deployment's own backup and restore commands, run on its host as the profile names them.

The backup command is pointed at a directory, a database and the stack (env file, compose
files, project) through the variables the profile names (`[backup] dir_var` ...); the restore
command gets the dump and a scratch database as arguments ({file}, {database}). The suite never
passes the live database to a restore and never the deployment's backup directory to a backup.
"""

from __future__ import annotations

import fnmatch
import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackprobe.commands import CommandRun
from stackprobe.profile import BackupSection
from stackprobe.targets.base import Target
from stackprobe.targets.envfiles import write_env
from stackprobe.targets.host import FileEntry, Host


def matches(name: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(name, pattern)


@dataclass(frozen=True)
class BackupRun:
    """One run of the backup command into `directory`: what ran and which files it left."""

    run: CommandRun
    directory: str
    before: tuple[FileEntry, ...]
    after: tuple[FileEntry, ...] | None  # None: the directory does not exist afterwards
    dump_pattern: str
    archive_patterns: dict[str, str] = field(default_factory=dict)

    @property
    def new_files(self) -> list[FileEntry]:
        """Files that were not there before the run, or that changed."""
        old = {(e.name, e.size, e.mtime) for e in self.before}
        return [e for e in (self.after or ()) if e.is_file and (e.name, e.size, e.mtime) not in old]

    @property
    def dumps(self) -> list[FileEntry]:
        return [e for e in self.new_files if matches(e.name, self.dump_pattern)]

    @property
    def archives(self) -> dict[str, list[FileEntry]]:
        return {key: [e for e in self.new_files if matches(e.name, pattern)]
                for key, pattern in self.archive_patterns.items()}

    def path(self, entry: FileEntry) -> str:
        return posixpath.join(self.directory, entry.name)

    def looks_like_backups(self) -> list[FileEntry]:
        """New files named like a dump or an archive: what a later restore would pick up."""
        patterns = [self.dump_pattern, *self.archive_patterns.values()]
        return [e for e in self.new_files if any(matches(e.name, p) for p in patterns)]

    def summary(self) -> dict[str, Any]:
        return {**self.run.summary(), "directory": self.directory,
                "new_files": [e.describe() for e in self.new_files]}


class Procedure:
    """The backup and restore commands of one target, with the environment they need."""

    def __init__(self, target: Target, host: Host, env_file: str) -> None:
        self.target = target
        self.host = host
        self.cfg: BackupSection = target.profile.backup
        self.env_file = env_file
        self.project_dir = str(target.project_dir)

    # --- configuration -----------------------------------------------------------------------
    def resolve(self, command: list[str]) -> list[str]:
        """A command whose first word is a relative path runs from the project directory."""
        if not command:
            return command
        first = command[0]
        if "/" in first and not posixpath.isabs(first):
            first = posixpath.join(self.project_dir, first)
        return [first, *command[1:]]

    def environment(self, directory: str, database: str | None = None, files: bool | None = None,
                    retention_days: int | None = None, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        cfg = self.cfg
        env = dict(cfg.env)
        pairs: list[tuple[str, str | None]] = [
            (cfg.dir_var, directory),
            (cfg.database_var, database),
            (cfg.files_var, None if files is None else ("1" if files else "0")),
            (cfg.retention_var, None if retention_days is None else str(retention_days)),
            (cfg.env_file_var, self.env_file),
            (cfg.compose_files_var, ":".join(str(f) for f in self.target.compose_files)),
        ]
        for name, value in pairs:
            if name and value is not None:
                env[name] = value
        env["COMPOSE_PROJECT_NAME"] = self.target.project
        env.update(extra or {})
        return env

    # --- running -----------------------------------------------------------------------------
    def backup(self, directory: str, *, database: str | None = None, files: bool | None = None,
               retention_days: int | None = None, extra_env: Mapping[str, str] | None = None,
               timeout: float | None = None) -> BackupRun:
        before = self.host.listdir(directory) or []
        run = self.host.run(self.resolve(list(self.cfg.command)),
                            env=self.environment(directory, database, files, retention_days, extra_env),
                            cwd=self.project_dir, timeout=timeout or self.cfg.command_timeout_s)
        after = self.host.listdir(directory)
        return BackupRun(run, directory, tuple(before), None if after is None else tuple(after),
                         self.cfg.dump_pattern, dict(self.cfg.archive_patterns))

    def restore(self, file: str, database: str, timeout: float | None = None) -> CommandRun:
        live = self.target.database_name()
        if database == live:
            raise ValueError(f"refusing to restore into the live database {live!r}")
        argv = [arg.replace("{file}", file).replace("{database}", database) for arg in self.cfg.restore_command]
        return self.host.run(self.resolve(argv), env=self.environment(posixpath.dirname(file)),
                             cwd=self.project_dir, timeout=timeout or self.cfg.command_timeout_s)


def command_env_file(target: Target, host: Host, scratch: str) -> str:
    """The one env file the commands are pointed at: the target's own, or (an ephemeral copy,
    whose values come from a generated file plus an overlay) one file with both, 0600, in the
    run's scratch directory on this host."""
    if len(target.env_files) == 1:
        return str(target.env_files[0])
    path = posixpath.join(scratch, "stack.env")
    from pathlib import Path

    write_env(Path(path), target.env)
    return path
