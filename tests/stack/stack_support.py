"""Helpers shared by the tests/stack tests: the Stack handle and small utilities.

Imported by name (`from stack_support import ...`): pytest puts this directory on sys.path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pymysql
import redis

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = ROOT / "stack" / "scripts"
IMAGES_ENV = ROOT / ".stackprobe" / "images.env"
SERVICES = ("mysql", "redis", "backend")
# The runbook's compose file plus healthchecks every 2 s instead of 10/30 s (the commands stay the
# runbook's): each start and restart these tests make then waits seconds, not half a minute.
# The scripts get the same list through COMPOSE_FILE.
COMPOSE_FILES = (ROOT / "docker-compose.yml", ROOT / "tests" / "support" / "fast-health.yml")
INIT_TIMEOUT = 480  # build + first start; the backend's first healthcheck runs at 30 s


def parse_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    if not path.exists():
        return values
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values


def docker_client() -> Any:
    import docker

    return docker.from_env()


def docker_available() -> str | None:
    """None if a Docker engine and compose v2 answer, else why not."""
    if shutil.which("docker") is None:
        return "docker CLI not installed"
    try:
        docker_client().ping()
    except Exception as error:  # any failure means: no usable engine
        return f"no Docker engine answers ({type(error).__name__})"
    probe = subprocess.run(
        ["docker", "compose", "version"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        return "docker compose v2 is not installed"
    return None


def one_line(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    assert len(lines) == 1, f"expected exactly one line, got {len(lines)}: {text!r}"
    return lines[0]


@dataclass
class Stack:
    project: str
    env_file: Path
    # Secrets inside: kept out of repr, which pytest prints in failure reports.
    values: dict[str, str] = field(repr=False)
    workdir: Path
    env: dict[str, str] = field(default_factory=dict, repr=False)
    init_seconds: float = 0.0

    # --- processes -----------------------------------------------------------------------
    def run(
        self,
        args: Sequence[str | os.PathLike[str]],
        *,
        timeout: float = 120,
        check: bool = False,
        extra_env: dict[str, str] | None = None,
        cwd: Path | None = None,
        stdin: int | None = subprocess.DEVNULL,
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **(extra_env or {})}
        result = subprocess.run(
            [str(a) for a in args],
            env=env,
            cwd=cwd or self.workdir,  # the scripts must work from any directory
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=stdin,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(map(str, args))} exited {result.returncode}\n"
                f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
            )
        return result

    def compose(self, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        files = [arg for file in COMPOSE_FILES for arg in ("-f", str(file))]
        return self.run(["docker", "compose", *files, "--env-file", self.env_file, *args], **kwargs)

    def script(self, name: str, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return self.run([SCRIPTS / name, *args], **kwargs)

    # --- containers ----------------------------------------------------------------------
    def containers(self) -> list[Any]:
        return docker_client().containers.list(
            all=True, filters={"label": f"com.docker.compose.project={self.project}"}
        )

    def container(self, service: str) -> Any:
        found = [
            c
            for c in self.containers()
            if c.labels.get("com.docker.compose.service") == service
            and c.labels.get("com.docker.compose.oneoff", "False") == "False"
        ]
        assert len(found) == 1, f"expected one {service} container, found {len(found)}"
        return found[0]

    def volumes(self) -> list[Any]:
        return docker_client().volumes.list(
            filters={"label": f"com.docker.compose.project={self.project}"}
        )

    def port(self, service: str, container_port: int) -> int:
        container = self.container(service)
        container.reload()
        bindings = container.attrs["NetworkSettings"]["Ports"].get(f"{container_port}/tcp")
        assert bindings, f"{service}:{container_port} is not published"
        return int(bindings[0]["HostPort"])

    # --- endpoints -----------------------------------------------------------------------
    @property
    def backend_url(self) -> str:
        return f"http://127.0.0.1:{self.port('backend', 8000)}"

    @property
    def health_url(self) -> str:
        return f"{self.backend_url}/api/v1/system/health"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port('backend', 9090)}/metrics"

    def mysql(self, *, root: bool = False, database: str | None = None) -> pymysql.Connection:
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port("mysql", 3306),
            user="root" if root else self.values["MYSQL_USER"],
            password=self.values["MYSQL_ROOT_PASSWORD" if root else "MYSQL_PASSWORD"],
            database=database if database is not None else self.values["MYSQL_DATABASE"],
            charset="utf8mb4",
            connect_timeout=5,
            autocommit=True,
        )

    def redis(self) -> redis.Redis:
        return redis.Redis(
            host="127.0.0.1",
            port=self.port("redis", 6379),
            password=self.values["REDIS_PASSWORD"],
            socket_timeout=5,
            decode_responses=True,
        )

    def databases(self) -> set[str]:
        with self.mysql(root=True, database="") as conn, conn.cursor() as cursor:
            cursor.execute("SELECT SCHEMA_NAME FROM information_schema.SCHEMATA")
            return {row[0] for row in cursor.fetchall()}

    def wait_healthy(self, timeout: float = 60) -> float:
        """Poll the health endpoint until it answers 200; returns the seconds it took."""
        started = time.monotonic()
        last = "no answer"
        while time.monotonic() - started < timeout:
            try:
                response = httpx.get(self.health_url, timeout=5)
                if response.status_code == 200:
                    return time.monotonic() - started
                last = f"{response.status_code} {response.text[:200]}"
            except (httpx.HTTPError, AssertionError) as error:
                last = repr(error)
            time.sleep(0.5)
        raise AssertionError(f"health not 200 after {timeout:g}s: {last}")
