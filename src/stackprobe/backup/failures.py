"""BKP-09: a throwaway database server for the backup command to fail against.

A compose project of its own on the stack's host (one service with the database service's name
and image, a random root password, a small database of padding), so the deployment's backup
command, pointed at it through the compose variables it already honours, meets real failures
without anything happening to the live server:

- wrong password: the server's root password is changed after start, so the password the
  container's environment gives the command is refused;
- stopped mid-dump: the container is stopped while the dump streams.

The project is named like an ephemeral copy (`spx<pid>x<hex>`), so the leftovers of a killed
run are removed by the next one.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from stackprobe.backup.procedure import BackupRun, Procedure
from stackprobe.backup.transfers import fill_sql, rows_for
from stackprobe.redact import REDACTOR
from stackprobe.targets.base import PROJECT_LABEL, SERVICE_LABEL, ExecResult, Target
from stackprobe.targets.host import FileEntry, Host
from stackprobe.targets.leftovers import PREFIX, remove_leftovers

DATABASE = "stackprobe_failure"
COMPOSE = """\
services:
  {service}:
    image: {image}
    environment:
      MYSQL_ROOT_PASSWORD: ${{SPX_FAILURE_ROOT_PASSWORD:?}}
      MYSQL_DATABASE: {database}{root_password_env}
    labels:
      stackprobe.throwaway: bkp-09
      stackprobe.target: {target}
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-h", "localhost"]
      interval: 1s
      timeout: 5s
      retries: 120
"""
# SQL through stdin from the shell builtin printf: neither password is ever an argument
ALTER_ROOT = r"""client=$(command -v mysql || command -v mariadb)
{
  printf "ALTER USER IF EXISTS 'root'@'localhost' IDENTIFIED BY '%s';\n" "$SPX_NEW"
  printf "ALTER USER IF EXISTS 'root'@'%%' IDENTIFIED BY '%s';\n" "$SPX_NEW"
  printf "FLUSH PRIVILEGES;\n"
} | MYSQL_PWD="$SPX_OLD" "$client" -uroot
"""
RUN_SQL = r"""client=$(command -v mysql || command -v mariadb)
MYSQL_PWD="$SPX_PW" "$client" -uroot "$1" -e "$2"
"""


@dataclass(frozen=True)
class FailedRun:
    case: str
    run: BackupRun
    note: str = ""  # why the case may not prove anything (e.g. the dump ended before the stop)

    def problems(self) -> list[str]:
        out = []
        if self.run.run.exit_code == 0:
            out.append(f"{self.case}: the backup command exited 0 although the dump failed")
        left = self.run.looks_like_backups()
        if left:
            out.append(f"{self.case}: left {', '.join(f'{e.name} ({e.size} bytes)' for e in left)}, "
                       "named like a good backup")
        return out

    def summary(self) -> dict[str, Any]:
        leftovers: list[FileEntry] = [e for e in self.run.new_files if e not in self.run.looks_like_backups()]
        return {"case": self.case, **self.run.summary(), "looks_like_backups": [e.name for e in
                                                                               self.run.looks_like_backups()],
                "other_leftovers": [e.name for e in leftovers], "note": self.note}


class FailureServer:
    """The throwaway project, seeded with `padding_mb` of data so a dump of it streams for a
    while; use as a context manager (removed afterwards, whatever happens)."""

    def __init__(self, target: Target, host: Host, scratch: str, docker: Any = None, padding_mb: int = 16) -> None:
        self.target = target
        self.host = host
        self.docker = docker if docker is not None else target.docker
        self.service = target.profile.services.database
        self.project = f"{PREFIX}{os.getpid()}x{secrets.token_hex(3)}"
        self.dir = posixpath.join(scratch, "failure-server")
        self.compose_file = posixpath.join(self.dir, "compose.yml")
        self.env_file = posixpath.join(self.dir, "failure.env")
        self.password = secrets.token_urlsafe(18)
        REDACTOR.add(self.password, "failure server root password")
        self.started_s = 0.0
        self.padding_mb = padding_mb
        self.attempts_failed: list[str] = []  # start-ups that failed before the one that worked

    # --- lifecycle ---------------------------------------------------------------------------
    def _compose(self, *args: str, timeout: float = 180.0) -> Any:
        return self.host.run(["docker", "compose", "-p", self.project, "-f", self.compose_file,
                              "--env-file", self.env_file, *args], cwd=self.dir, timeout=timeout)

    def __enter__(self) -> FailureServer:
        with contextlib.suppress(Exception):
            remove_leftovers(self.docker)  # projects of killed runs (dead pids) only
        image = self.image()
        self.host.run(["mkdir", "-p", "-m", "0700", self.dir])
        # the root password also under the name the deployment's service has it (MARIADB_ROOT_PASSWORD,
        # say): the backup command reads it from the container's environment by that name
        named = self.target.profile.database.root_password_env
        also = (f"\n      {named}: ${{SPX_FAILURE_ROOT_PASSWORD:?}}"
                if named and named != "MYSQL_ROOT_PASSWORD" and named.isidentifier() else "")
        self.host.write_file(self.compose_file, COMPOSE.format(service=self.service, image=image, database=DATABASE,
                                                               target=self.target.project,
                                                               root_password_env=also).encode(), 0o600)
        self.host.write_file(self.env_file, (f"COMPOSE_PROJECT_NAME={self.project}\n"
                                             f"SPX_FAILURE_ROOT_PASSWORD={self.password}\n").encode(), 0o600)
        started = time.monotonic()
        for attempt in (1, 2):  # a second chance: an image's first start can fail on a loaded host
            up = self._compose("up", "-d", "--wait", timeout=240)
            if up.exit_code == 0:
                break
            self._compose("down", "-v", "-t", "2", timeout=120)
            if attempt == 2:
                self.close()
                raise RuntimeError(REDACTOR.redact(f"the throwaway database server did not start (twice): "
                                                   f"{up.describe()}"))
            self.attempts_failed.append(up.describe(300))
        try:
            self._wait_ready()
            self.seed(rows_for(self.padding_mb))
        except BaseException:
            self.close()
            raise
        self.started_s = time.monotonic() - started
        return self

    def image(self) -> str:
        """The image the stack's database service runs (looked up with this server's own client)."""
        found = self.docker.containers.list(all=True, filters={"label": [
            f"{PROJECT_LABEL}={self.target.project}", f"{SERVICE_LABEL}={self.service}"]})
        if not found:
            raise RuntimeError(f"project {self.target.project}: no {self.service} container to take the image of")
        return str(found[0].attrs["Config"]["Image"])

    def _wait_ready(self, timeout: float = 120.0) -> None:
        """Until the root password works (the image's first-start initialisation is done)."""
        deadline = time.monotonic() + timeout
        while True:
            done = self.sql("SELECT 1")
            if done.exit_code == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the throwaway database server never accepted its root password: "
                                   f"{REDACTOR.redact(done.output[-300:])}")
            time.sleep(0.5)

    def container(self) -> Any:
        found = self.docker.containers.list(
            all=True, filters={"label": [f"com.docker.compose.project={self.project}",
                                         f"com.docker.compose.service={self.service}"]})
        if not found:
            raise RuntimeError(f"throwaway project {self.project}: no {self.service} container")
        return found[0]

    def close(self) -> None:
        self._compose("down", "-v", "-t", "2", timeout=120)
        with contextlib.suppress(Exception):
            for container in self.docker.containers.list(
                    all=True, filters={"label": f"com.docker.compose.project={self.project}"}):
                container.remove(force=True, v=True)
        self.host.remove_tree(self.dir)

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- inside the server -------------------------------------------------------------------
    def sql(self, statement: str, password: str | None = None) -> ExecResult:
        code, output = self.container().exec_run(
            ["sh", "-c", RUN_SQL, "sql", DATABASE, statement],
            environment={"SPX_PW": password or self.password})
        return ExecResult(int(code or 0), output.decode("utf-8", "replace"))

    def seed(self, rows: int) -> None:
        self.sql("CREATE TABLE IF NOT EXISTS acct_a (id INT PRIMARY KEY, bal BIGINT NOT NULL, "
                 "filler VARCHAR(512) NOT NULL) ENGINE=InnoDB DEFAULT CHARSET=ascii")
        for statement in fill_sql(rows):
            done = self.sql(statement)
            if done.exit_code != 0:
                raise RuntimeError(f"seeding the throwaway server failed: {done.output[-300:]}")

    @contextlib.contextmanager
    def wrong_password(self) -> Iterator[None]:
        """The server's root password changed: the container's environment now has a wrong one."""
        other = secrets.token_urlsafe(18)
        REDACTOR.add(other, "failure server root password")
        self._alter(self.password, other)
        try:
            yield
        finally:
            self._alter(other, self.password)

    def _alter(self, old: str, new: str) -> None:
        code, output = self.container().exec_run(["sh", "-c", ALTER_ROOT], environment={"SPX_OLD": old,
                                                                                         "SPX_NEW": new})
        if code != 0:
            raise RuntimeError(f"cannot change the throwaway server's root password: "
                               f"{REDACTOR.redact(output.decode('utf-8', 'replace')[-300:])}")

    # --- the backup command against it -------------------------------------------------------
    def environment(self) -> dict[str, str]:
        cfg = self.target.profile.backup
        env = {"COMPOSE_PROJECT_NAME": self.project}
        if cfg.env_file_var:
            env[cfg.env_file_var] = self.env_file
        if cfg.compose_files_var:
            env[cfg.compose_files_var] = self.compose_file
        return env

    def backup(self, procedure: Procedure, directory: str, timeout: float) -> BackupRun:
        return procedure.backup(directory, database=DATABASE, files=False, extra_env=self.environment(),
                                timeout=timeout)

    def stopped_mid_dump(self, procedure: Procedure, directory: str, timeout: float,
                         started_when: Callable[[list[FileEntry]], bool]) -> tuple[BackupRun, str]:
        """Run the backup command; once `started_when(listing)` says the dump is streaming, stop
        the server. Returns the run and a note when the stop came too late to be mid-dump."""
        result: list[BackupRun] = []
        failure: list[BaseException] = []

        def run() -> None:
            try:
                result.append(self.backup(procedure, directory, timeout))
            except BaseException as error:  # re-raised in the caller's thread
                failure.append(error)

        thread = threading.Thread(target=run, name="stackprobe-bkp09", daemon=True)
        thread.start()
        note = ""
        deadline = time.monotonic() + timeout
        while thread.is_alive() and time.monotonic() < deadline:
            listing = self.host.listdir(directory) or []
            if started_when(listing):
                self.container().stop(timeout=10)
                break
            time.sleep(0.01)
        else:
            note = "the dump ended before the server could be stopped: raise the padding"
        thread.join(timeout=timeout)
        if failure:
            raise failure[0]
        if not result:
            raise RuntimeError(f"the backup command did not end within {timeout:.0f} s")
        return result[0], note


class Prestart:
    """Starts a FailureServer in a background thread (with a Docker client of its own), so its
    start-up overlaps other checks; `get()` waits for it, `close()` removes it."""

    def __init__(self, make: Callable[[], FailureServer]) -> None:
        self.make = make
        self.server: FailureServer | None = None
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        try:
            self.server = self.make().__enter__()
        except BaseException as error:  # re-raised by get()
            self.error = error

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="stackprobe-failure-server", daemon=True)
            self._thread.start()

    def get(self, timeout: float = 300.0) -> FailureServer:
        self.start()
        assert self._thread is not None
        self._thread.join(timeout=timeout)
        if self.error is not None:
            raise self.error
        if self.server is None:
            raise RuntimeError(f"the throwaway database server did not start within {timeout:.0f} s")
        return self.server

    def close(self) -> None:
        if self._thread is not None:
            self._thread.join(timeout=300)
        if self.server is not None:
            self.server.close()
