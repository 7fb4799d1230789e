"""The deploy suite's library: a throwaway project that only the deployment's own deploy
command starts, changes and removes; bounded read traffic that measures an outage window;
migration revisions; a schema fingerprint and per-table checksums.

A `DeployProject` is an `EphemeralTarget` that is never started by compose: the generated env
file (template keys, strong random secrets, unique names) is written as one file for the
deploy command, with fixed free loopback ports so clients keep their address across restarts,
and images the command builds get a tag of the project's own.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from stackprobe.backup import checksums
from stackprobe.commands import CommandRun, run_command
from stackprobe.owners import owner_alive
from stackprobe.profile import Profile
from stackprobe.redact import REDACTOR
from stackprobe.targets.base import PROJECT_LABEL, Service, Target
from stackprobe.targets.envfiles import write_env
from stackprobe.targets.ephemeral import EphemeralTarget
from stackprobe.traffic import BoundedTraffic


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DeployProject:
    """A throwaway compose project driven only by the deploy command (`deploy.sh init`, ...)."""

    def __init__(self, profile: Profile, project_dir: Path, compose_files: list[Path],
                 deploy_command: Sequence[str] | None = None) -> None:
        cfg = profile.deploy
        self.profile = profile
        self.project_dir = project_dir
        # fixed free loopback ports, so clients keep their address across the command's restarts
        self.target = EphemeralTarget(profile, project_dir, compose_files, None,
                                      host_port=lambda: str(free_loopback_port()))
        self.project = self.target.project
        values = dict(self.target.env)
        for key, value in list(values.items()):
            if key.endswith("_PORT") and value == "0":
                values[key] = str(free_loopback_port())
        self.images = {var: f"{self.project}-{var.lower().replace('_', '-')}:deploy" for var in cfg.image_vars}
        values.update(self.images)
        self.target.env.update(values)
        self.env_file = self.target.state_dir / "deploy.env"
        write_env(self.env_file, values)
        REDACTOR.add_environment(values, "deploy project env file")
        command = list(deploy_command or cfg.command)
        first = Path(command[0])
        if not first.is_absolute() and (project_dir / first).exists():
            command[0] = str(project_dir / first)
        self.command = command
        self.ever_started = False

    # --- running commands -----------------------------------------------------------------
    def environ(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The caller's environment minus anything that could point compose elsewhere, plus
        the project's env file and compose files through the deploy command's own variables."""
        cfg = self.profile.deploy
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("COMPOSE_") and k not in self.target.env and k != "CONFIRM"}
        env[cfg.env_file_var] = str(self.env_file)
        env[cfg.compose_files_var] = ":".join(str(f) for f in self.target.compose_files)
        env["COMPOSE_PROJECT_NAME"] = self.project
        env.update(extra or {})
        return env

    def deploy(self, *args: str, extra_env: dict[str, str] | None = None,
               timeout: float | None = None) -> CommandRun:
        if args and args[0] in {"init", "start", "restart", "update"}:
            self.ever_started = True
        return self.run([*self.command, *args], extra_env=extra_env, timeout=timeout)

    def run(self, argv: Sequence[str], extra_env: dict[str, str] | None = None,
            timeout: float | None = None) -> CommandRun:
        expanded: list[str] = []
        for arg in argv:
            if arg == "{deploy}":
                expanded += self.command
            else:
                expanded.append(arg.replace("{env_file}", str(self.env_file)))
        return run_command(expanded, cwd=self.project_dir, env=self.environ(extra_env),
                           timeout=timeout or self.profile.deploy.command_timeout_s)

    # --- what exists ------------------------------------------------------------------------
    def containers_by_service(self) -> dict[str, dict[str, str]]:
        """service -> {id, status, health} for the project's long-running containers."""
        found: dict[str, dict[str, str]] = {}
        for container in self.target.containers():
            state = container.attrs.get("State", {})
            found[str(container.labels.get("com.docker.compose.service", container.name))] = {
                "id": str(container.id)[:12], "name": str(container.name), "status": str(container.status),
                "health": str((state.get("Health") or {}).get("Status", "none")),
            }
        return found

    def volumes(self) -> list[str]:
        """Names of the project's volumes (whether their data survived, the checks read back;
        a local volume's CreatedAt moves when it is mounted, so it tells nothing)."""
        volumes = self.target.docker.volumes.list(filters={"label": f"{PROJECT_LABEL}={self.project}"})
        return sorted(str(v.name) for v in volumes)

    def is_fresh(self) -> bool:
        return not self.target.docker.containers.list(
            all=True, filters={"label": f"{PROJECT_LABEL}={self.project}"}) and not self.volumes()

    def running(self) -> bool:
        services = self.containers_by_service()
        return bool(services) and all(s["status"] == "running" for s in services.values())

    def backend(self) -> Service:
        return self.target.service(self.profile.services.backend)

    def wait_healthy(self, timeout: float) -> float | None:
        """Seconds until the health URL answers 2xx, None if it did not within `timeout`."""
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            try:
                if self.target.http().get(self.target.health_url, timeout=5).is_success:
                    return time.monotonic() - started
            except (httpx.HTTPError, Exception):  # port not published yet, connection refused
                pass
            time.sleep(0.25)
        return None

    # --- removal ----------------------------------------------------------------------------
    def remove_stack(self) -> None:
        """Containers, networks and volumes of the project (its env file stays)."""
        docker = self.target.docker
        run_command(["docker", "compose", "-p", self.project, "down", "-v", "--remove-orphans", "-t", "5"],
                    cwd=self.project_dir, env=self.environ(), timeout=180)
        label = {"label": f"{PROJECT_LABEL}={self.project}"}
        for container in docker.containers.list(all=True, filters=label):
            container.remove(force=True, v=True)
        for volume in docker.volumes.list(filters=label):
            volume.remove(force=True)
        for network in docker.networks.list(filters=label):
            network.remove()

    def remove(self) -> None:
        """Everything: the stack, the images built under the project's own tags, the env file."""
        self.remove_stack()
        docker = self.target.docker
        for image in self.images.values():
            with contextlib.suppress(Exception):  # never built (the run stopped early)
                docker.images.remove(image, noprune=False)
        self.target.stop()


# --- migrations -------------------------------------------------------------------------------
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
                "run the migrations (alembic upgrade head) as the deploy flow does")


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
        for name in sorted(set(old) | set(new)):
            if name not in new:
                changes.append(f"{part[:-1]} {name} disappeared")
            elif name not in old:
                changes.append(f"{part[:-1]} {name} appeared")
            elif old[name] != new[name]:
                changes.append(f"table {name}: rows {old[name]} -> {new[name]}" if part == "rows"
                               else f"table {name}: definition changed")
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


# --- read traffic -----------------------------------------------------------------------------
@dataclass
class TrafficReport:
    """What bounded read traffic saw; times are seconds after the traffic started."""

    sent: int = 0
    ok: int = 0
    failed: int = 0
    first_failure_s: float | None = None
    recovered_s: float | None = None  # first success after the last failure
    downtime_s: float | None = None  # first failure .. recovery; 0.0 when nothing failed
    max_latency_s: float = 0.0
    stopped_by: str = ""
    errors: dict[str, int] = field(default_factory=dict)

    def as_evidence(self) -> dict[str, Any]:
        def r(value: float | None) -> float | None:
            return None if value is None else round(value, 3)

        return {"sent": self.sent, "ok": self.ok, "failed": self.failed, "first_failure_s": r(self.first_failure_s),
                "recovered_s": r(self.recovered_s), "downtime_s": r(self.downtime_s),
                "max_latency_s": r(self.max_latency_s), "stopped_by": self.stopped_by, "errors": self.errors}


_STOPPED_BY = {"count": "max_requests", "time": "max_duration", "caller": "caller"}  # the evidence's words


class ReadTraffic:
    """GET requests round-robin over `urls`, one per `interval_s`, in a background thread (the
    one bounded traffic engine, stackprobe.traffic); bounded by `max_requests` and
    `max_duration_s`. Use as a context manager."""

    def __init__(self, urls: list[str], interval_s: float, max_requests: int, max_duration_s: float,
                 headers: dict[str, str] | None = None) -> None:
        self._client = httpx.Client(timeout=2.0, headers=headers or {})
        self._latencies: list[float] = []

        def send(seq: int) -> tuple[float, bool, str]:
            url = urls[seq % len(urls)]
            sent = self.elapsed()
            try:
                status = self._client.get(url).status_code
                sample = (sent, 200 <= status < 300, str(status))
            except httpx.HTTPError as error:
                sample = (sent, False, type(error).__name__)
            self._latencies.append(self.elapsed() - sent)
            return sample

        self._traffic = BoundedTraffic(send, concurrency=1, max_requests=max_requests, max_s=max_duration_s,
                                       pace=lambda _sample, latency: max(0.0, interval_s - latency),
                                       name="read-traffic")

    @property
    def samples(self) -> list[tuple[float, bool, str]]:  # (t, ok, status or error type)
        return self._traffic.snapshot()

    @property
    def stopped_by(self) -> str:
        return _STOPPED_BY.get(self._traffic.stopped_by, "")

    def __enter__(self) -> ReadTraffic:
        self._traffic.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def elapsed(self) -> float:
        return time.monotonic() - self._traffic.started

    def stop(self) -> None:
        self._traffic.stop()
        self._client.close()

    def sleep(self, seconds: float) -> None:
        """Let the traffic run for `seconds` more (returns early once it stopped)."""
        self._traffic.wait(seconds)

    def report(self) -> TrafficReport:
        samples = list(self.samples)
        report = TrafficReport(sent=len(samples), stopped_by=self.stopped_by)
        report.ok = sum(1 for _, ok, _ in samples if ok)
        report.failed = report.sent - report.ok
        report.max_latency_s = max(self._latencies, default=0.0)
        for _, ok, what in samples:
            if not ok:
                report.errors[what] = report.errors.get(what, 0) + 1
        failures = [t for t, ok, _ in samples if not ok]
        if not failures:
            report.downtime_s = 0.0
            return report
        report.first_failure_s = failures[0]
        after = [t for t, ok, _ in samples if ok and t > failures[-1]]
        if after:
            report.recovered_s = after[0]
            report.downtime_s = after[0] - failures[0]
        return report


_LEFTOVER_IMAGE = re.compile(r"^spx(\d+)x[0-9a-f]+-[a-z0-9-]+:deploy$")


def remove_leftover_images(client: Any) -> list[str]:
    """Images a killed run's throwaway project built under its own tag (owner pid dead)."""

    removed = []
    for image in client.images.list():
        for tag in image.tags:
            match = _LEFTOVER_IMAGE.match(tag)
            if match and not owner_alive(int(match.group(1))):
                try:
                    client.images.remove(tag)
                    removed.append(tag)
                except Exception:  # in use by a container another cleanup still removes
                    pass
    return removed
