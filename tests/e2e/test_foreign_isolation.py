"""Ephemeral copies of a compose file nobody wrote for stackprobe, and its unpublished datastores.

The stack (written here): fixed container_names, a named network and volume, fixed host ports, a
bind-mounted ./data, and the database and cache on an `internal: true` network with no published
port. One "live" instance runs from the file with plain `docker compose up`; two ephemeral copies
start at once next to it. None may share a port, container, network, volume or host directory
with another, the live ./data must stay as it was, DB-01/RDS-01 pass on a copy through the
in-network route, and a stopped database errors its own check in one line.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import socket
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
from support.stacks import SUITES, run_pytest

from stackprobe.profile import load_profile
from stackprobe.targets.envfiles import write_env
from stackprobe.targets.ephemeral import EphemeralTarget

pytestmark = [pytest.mark.needs_docker, pytest.mark.slow]

COMPOSE = """\
name: {tag}
services:
  db:
    image: stackprobe/mysql-standin:8.0-mariadb10.11
    container_name: {tag}_db
    command: ["--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"]
    environment:
      MYSQL_ROOT_PASSWORD: ${{DB_ROOT_PASSWORD:?}}
      MYSQL_DATABASE: shop
      MYSQL_USER: ${{DB_USER:-shop}}
      MYSQL_PASSWORD: ${{DB_PASSWORD:?}}
    volumes: ["dbdata:/var/lib/mysql"]
    networks: [back]
    healthcheck:
      test: ["CMD", "mysqladmin", "ping", "-h", "localhost"]
      interval: 1s
      retries: 60
  cache:
    image: stackprobe/redis-standin:7.0
    container_name: {tag}_cache
    command: ["sh", "-c", "exec redis-server --requirepass \\"$$CACHE_PASSWORD\\" --appendonly yes"]
    environment:
      CACHE_PASSWORD: ${{CACHE_PASSWORD:?}}
    networks: [back]
    healthcheck:
      test: ["CMD-SHELL", "REDISCLI_AUTH=$$CACHE_PASSWORD redis-cli ping | grep -q PONG"]
      interval: 1s
      retries: 30
  api:
    image: stackprobe/python-standin:3.11
    container_name: {tag}_api
    command: ["sh", "-c", "date +%s%N > /data/started-$$HOSTNAME && exec python3 -m http.server 8000 -d /data"]
    volumes: ["./data:/data", "./site.conf:/etc/site.conf:ro"]
    ports: ["{port}:8000"]
    networks: [back, front]
networks:
  back:
    name: {tag}_net
    internal: true
  front:
    name: {tag}_front
volumes:
  dbdata:
    name: {tag}_dbdata
"""

PROFILE = """\
[stack]
project_dir = "{project_dir}"
compose_files = ["compose.yml"]
env_template = ".env.example"
migrate_command = []

[services]
database = "db"
cache = "cache"
backend = "api"

[database]
user_env = "DB_USER"
password_env = "DB_PASSWORD"
database_env = "DB_NAME"
root_password_env = "DB_ROOT_PASSWORD"
version_prefixes = ["8.0.", "10.11."]

[redis]
password_env = "CACHE_PASSWORD"
persistence = "aof"
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _tree_digest(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@dataclass
class Footprint:
    """What one compose project holds on the engine and the host."""

    containers: set[str]
    networks: set[str]
    volumes: set[str]
    host_ports: set[int]
    bind_sources: set[str]


def footprint(client: docker.DockerClient, project: str) -> Footprint:
    label = {"label": f"com.docker.compose.project={project}"}
    containers = client.containers.list(all=True, filters=label)
    ports: set[int] = set()
    binds: set[str] = set()
    networks: set[str] = set()
    for container in containers:
        for bindings in (container.attrs["NetworkSettings"]["Ports"] or {}).values():
            ports |= {int(b["HostPort"]) for b in bindings or [] if b.get("HostPort")}
        binds |= {m["Source"] for m in container.attrs["Mounts"] if m["Type"] == "bind"}
        networks |= set(container.attrs["NetworkSettings"]["Networks"])
    volumes = {v.name for v in client.volumes.list(filters=label)}
    return Footprint({c.name for c in containers}, networks, volumes, ports, binds)


@dataclass
class Foreign:
    project_dir: Path
    live_project: str
    profile: Path
    copies: list[EphemeralTarget]
    live_data_before: dict[str, str]  # ./data after the live instance started, before any copy


@pytest.fixture(scope="module")
def foreign(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Foreign]:
    tag = f"sp20t{secrets.token_hex(3)}"
    project_dir = tmp_path_factory.mktemp("foreign")
    (project_dir / "compose.yml").write_text(COMPOSE.format(tag=tag, port=_free_port()))
    (project_dir / "site.conf").write_text("listen 8000\n")
    (project_dir / "data").mkdir()
    (project_dir / "data" / "orders.csv").write_text("id,total\n1,9.99\n")
    write_env(project_dir / ".env.example", {"DB_USER": "shop", "DB_NAME": "shop", "DB_PASSWORD": "",
                                             "DB_ROOT_PASSWORD": "", "CACHE_PASSWORD": ""})
    write_env(project_dir / ".env", {"DB_USER": "shop", "DB_NAME": "shop", "DB_PASSWORD": secrets.token_hex(16),
                                     "DB_ROOT_PASSWORD": secrets.token_hex(16),
                                     "CACHE_PASSWORD": secrets.token_hex(16)})
    profile = project_dir / "foreign.toml"
    profile.write_text(PROFILE.format(project_dir=project_dir))
    live = ["docker", "compose", "-f", str(project_dir / "compose.yml")]
    plain = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}  # the file's own name
    copies: list[EphemeralTarget] = []
    try:
        started = subprocess.run([*live, "up", "-d", "--wait"], cwd=project_dir, capture_output=True, text=True,
                                 timeout=300, env=plain)
        assert started.returncode == 0, started.stderr[-2000:]
        before = _tree_digest(project_dir / "data")
        assert len(before) == 2, before  # the seed file and the live instance's start marker
        loaded = load_profile(profile)
        copies = [EphemeralTarget(loaded, project_dir, [project_dir / "compose.yml"], None) for _ in range(2)]
        with ThreadPoolExecutor(2) as pool:  # both at once
            list(pool.map(lambda copy: copy.start(), copies))
        yield Foreign(project_dir, tag, profile, copies, before)
    finally:
        for copy in copies:
            copy.stop()
        subprocess.run([*live, "down", "-v", "-t", "2"], cwd=project_dir, capture_output=True, timeout=180,
                       env=plain)


def test_copies_and_the_live_instance_share_nothing(foreign: Foreign) -> None:
    client = docker.from_env()
    live_data = foreign.project_dir / "data"
    prints = {p: footprint(client, p) for p in [foreign.live_project, *(c.project for c in foreign.copies)]}
    for project, found in prints.items():
        assert len(found.containers) == 3 and found.host_ports and found.bind_sources, (project, found)
    names = list(prints)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            one, other = prints[a], prints[b]
            shared: dict[str, Any] = {
                "containers": one.containers & other.containers, "networks": one.networks & other.networks,
                "volumes": one.volumes & other.volumes, "ports": one.host_ports & other.host_ports,
                # a read-only config file may be shared: it holds no data and cannot be changed
                "binds": (one.bind_sources & other.bind_sources) - {str(foreign.project_dir / "site.conf")}}
            assert not any(shared.values()), (a, b, shared)
    for copy in foreign.copies:
        api = copy.service("api").inspect()
        assert {b["HostIp"] for bs in api["NetworkSettings"]["Ports"].values() for b in bs} == {"127.0.0.1"}
        fresh = Path(copy.fresh_binds[str(live_data)])
        assert not fresh.is_relative_to(foreign.project_dir) and fresh.is_relative_to(copy.state_dir)
        assert [p.name for p in fresh.iterdir()] and not (fresh / "orders.csv").exists()  # its own, empty at start
        assert copy.service("db").published_address(3306) is None  # the database stays unpublished
    assert _tree_digest(live_data) == foreign.live_data_before
    assert not list(foreign.project_dir.glob(".stackprobe*"))  # no state in the user's project


def test_datastore_checks_pass_through_the_network_and_a_stopped_one_errors(
        foreign: Foreign, tmp_path: Path) -> None:
    copy, other = foreign.copies
    controls = ["-k", "mysql_reachable or redis_reachable"]

    def suite(target: EphemeralTarget, report: str) -> Any:
        env_file = target.state_dir / "live.env"
        write_env(env_file, target.env)
        return run_pytest(f"{SUITES}/smoke/test_datastores.py", *controls, "--profile", str(foreign.profile),
                          "--target", "live", "--project-name", target.project, "--env-file", str(env_file),
                          *[a for f in target.compose_files for a in ("--compose-file", str(f))],
                          report_dir=tmp_path / report, timeout=300)

    passing = suite(copy, "pass")
    assert passing.statuses == {"DB-01": "passed", "RDS-01": "passed"}, passing.tail()
    other.service("db").container.stop(timeout=5)
    stopped = suite(other, "stopped")
    assert stopped.statuses == {"DB-01": "error", "RDS-01": "passed"}, stopped.tail()
    text = str(stopped.results["controls"]["DB-01"])
    assert "service db is exited" in text and "Traceback" not in stopped.stdout, stopped.tail()
    assert "publish" not in text
