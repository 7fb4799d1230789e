"""deploy.sh and monitor.sh: the runbook's commands, their refusals and bad input."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest
from stack_support import ROOT, SCRIPTS, Stack, docker_available, docker_client, one_line

COMMANDS = [
    "help",
    "init",
    "update",
    "start",
    "stop",
    "restart",
    "logs",
    "build",
    "backup",
    "clean",
]


def run(
    args: list[str], env: dict[str, str], cwd: Path, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


def clean_env(**extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COMPOSE_", "STACK_", "MYSQL_", "REDIS_", "BACKUP_"))
        and k != "CONFIRM"
    }
    env.update(extra)
    return env


def project_resources(project: str) -> list[str]:
    client = docker_client()
    label = {"label": f"com.docker.compose.project={project}"}
    return (
        [c.name for c in client.containers.list(all=True, filters=label)]
        + [v.name for v in client.volumes.list(filters=label)]
        + [n.name for n in client.networks.list(filters=label)]
    )


def alembic_head() -> str:
    """The one revision no other migration names as its down_revision."""
    revisions: dict[str, str | None] = {}
    for path in (ROOT / "stack" / "backend" / "alembic" / "versions").glob("*.py"):
        pattern = r"""^(revision|down_revision)\s*=\s*["']?([^"'\n]+?)["']?$"""
        found = dict(re.findall(pattern, path.read_text(), re.M))
        if "revision" in found:
            revisions[found["revision"]] = found.get("down_revision")
    heads = set(revisions) - set(revisions.values())
    assert len(heads) == 1, f"alembic heads: {heads}"
    return heads.pop()


def test_help_lists_every_command(tmp_path: Path) -> None:
    result = run([str(SCRIPTS / "deploy.sh"), "help"], clean_env(), cwd=tmp_path)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    for command in COMMANDS:
        matching = [line for line in lines if line.strip().split(" ")[0] == command]
        assert len(matching) == 1, f"help has {len(matching)} lines for {command}"
        assert len(matching[0].split()) > 1, f"no description for {command}"


def test_unknown_command_is_one_line_and_exit_2(tmp_path: Path) -> None:
    result = run([str(SCRIPTS / "deploy.sh"), "bogus"], clean_env(), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == ""
    assert one_line(result.stderr) == "error: unknown command 'bogus' (try: deploy.sh help)"


@pytest.mark.needs_docker
def test_init_without_env_file_refuses_and_starts_nothing(tmp_path: Path) -> None:
    if reason := docker_available():
        pytest.skip(f"needs Docker: {reason}")
    # A copy of the deployment without .env: the default path and its exact message.
    copy = tmp_path / "deployment"
    (copy / "stack" / "scripts").mkdir(parents=True)
    for script in ("deploy.sh", "lib.sh"):
        shutil.copy2(SCRIPTS / script, copy / "stack" / "scripts" / script)
    shutil.copy2(ROOT / "docker-compose.yml", copy / "docker-compose.yml")
    shutil.copy2(ROOT / ".env.example", copy / ".env.example")
    project = f"sptest_noenv_{uuid.uuid4().hex[:8]}"
    result = run(
        [str(copy / "stack" / "scripts" / "deploy.sh"), "init"],
        clean_env(COMPOSE_PROJECT_NAME=project),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        "error: .env not found: copy .env.example to .env and set its values"
    )
    assert project_resources(project) == []

    # The real deployment, pointed at a missing env file.
    missing = tmp_path / "missing.env"
    result = run(
        [str(SCRIPTS / "deploy.sh"), "init"],
        clean_env(COMPOSE_PROJECT_NAME=project, STACK_ENV_FILE=str(missing)),
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert one_line(result.stderr) == (
        f"error: {missing} not found: copy .env.example to {missing} and set its values"
    )
    assert project_resources(project) == []


@pytest.mark.needs_docker
def test_clean_without_confirmation_refuses_and_keeps_volumes(stack: Stack) -> None:
    volumes_before = sorted(v.name for v in stack.volumes())
    assert len(volumes_before) == 5
    for extra in ({}, {"CONFIRM": "no"}):
        result = stack.script("deploy.sh", "clean", extra_env=extra, timeout=60)
        assert result.returncode != 0
        line = one_line(result.stderr)
        assert line.startswith("error: ") and "--yes" in line
    # Interactive: anything but "yes" aborts.
    primary, secondary = os.openpty()
    try:
        process = subprocess.Popen(
            [str(SCRIPTS / "deploy.sh"), "clean"],
            env=stack.env,
            cwd=ROOT,
            stdin=secondary,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(primary, b"no\n")
        _, stderr = process.communicate(timeout=60)
    finally:
        os.close(primary)
        os.close(secondary)
    assert process.returncode != 0
    assert one_line(stderr).startswith("error: clean aborted")
    assert sorted(v.name for v in stack.volumes()) == volumes_before
    for container in stack.containers():
        container.reload()
        assert container.status == "running", f"{container.name} is {container.status}"


@pytest.mark.needs_docker
def test_logs_terminate_without_follow(stack: Stack) -> None:
    started = time.monotonic()
    result = stack.script("deploy.sh", "logs", "backend", timeout=60)
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 30
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert 0 < len(lines) <= 100


@pytest.mark.needs_docker
def test_monitor_passes_on_a_healthy_stack_and_fails_on_a_dead_url(stack: Stack) -> None:
    urls = {"BACKEND_URL": stack.backend_url, "METRICS_URL": stack.metrics_url}
    result = stack.script("monitor.sh", extra_env=urls, timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "✓ Backend API is healthy" in result.stdout
    assert "✓ Metrics is healthy" in result.stdout
    for service in ("mysql", "redis", "backend"):
        assert stack.values[f"{service.upper()}_CONTAINER_NAME"] in result.stdout

    dead = {**urls, "METRICS_URL": "http://127.0.0.1:9/metrics", "CHECK_TIMEOUT": "2"}
    result = stack.script("monitor.sh", extra_env=dead, timeout=90)
    assert result.returncode != 0
    assert "✗ Metrics is unhealthy" in result.stdout


@pytest.mark.needs_docker
@pytest.mark.alone  # compose recreates a container whose image another worker's build moved
def test_init_twice_is_safe(stack: Stack) -> None:
    response = httpx.post(
        f"{stack.backend_url}/api/v1/documents",
        json={"title": "kept across init", "content": f"kept {uuid.uuid4().hex}"},
        timeout=30,
    )
    assert response.status_code == 201
    with stack.mysql() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM documents")
        (rows_before,) = cursor.fetchone()
    ids_before = {c.labels["com.docker.compose.service"]: c.id for c in stack.containers()}

    result = stack.script("deploy.sh", "init", timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    ids_after = {c.labels["com.docker.compose.service"]: c.id for c in stack.containers()}
    assert ids_after == ids_before, "a second init recreated containers"
    with stack.mysql() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM documents")
        assert cursor.fetchone() == (rows_before,)
        cursor.execute("SELECT version_num FROM alembic_version")
        assert cursor.fetchone() == (alembic_head(),)
    stack.wait_healthy(timeout=30)


@pytest.mark.needs_docker
def test_stop_start_restart_keep_data(stack: Stack) -> None:
    key = f"stackprobe:test:{uuid.uuid4().hex}"
    stack.redis().set(key, "kept")
    time.sleep(1.5)  # appendfsync everysec: let the write reach the append-only file
    volumes = sorted(v.name for v in stack.volumes())
    redis_id = stack.container("redis").id

    result = stack.script("deploy.sh", "stop", "redis", timeout=60)
    assert result.returncode == 0, result.stderr
    container = stack.container("redis")
    assert container.status == "exited"
    assert container.id == redis_id, "stop removed the container"

    result = stack.script("deploy.sh", "start", "redis", timeout=120)
    assert result.returncode == 0, result.stderr
    container = stack.container("redis")
    assert container.id == redis_id
    assert container.attrs["State"]["Health"]["Status"] == "healthy"
    assert stack.redis().get(key) == "kept"

    result = stack.script("deploy.sh", "restart", "redis", timeout=120)
    assert result.returncode == 0, result.stderr
    assert stack.container("redis").attrs["State"]["Health"]["Status"] == "healthy"
    assert stack.redis().get(key) == "kept"
    assert sorted(v.name for v in stack.volumes()) == volumes
    stack.redis().delete(key)
    stack.wait_healthy(timeout=30)


@pytest.mark.needs_docker
def test_deploy_backup_runs_backup_sh(stack: Stack, tmp_path: Path) -> None:
    backup_dir = tmp_path / "via-deploy"
    result = stack.script(
        "deploy.sh", "backup", extra_env={"BACKUP_DIR": str(backup_dir), "BACKUP_FILES": "0"}
    )
    assert result.returncode == 0, result.stderr
    assert [p.name for p in backup_dir.iterdir()] == [
        p.name for p in backup_dir.glob("backup_*.sql.gz")
    ]
    assert len(list(backup_dir.iterdir())) == 1


@pytest.mark.needs_docker
def test_update_flow_keeps_data_and_comes_back_healthy(stack: Stack) -> None:
    content = f"update flow keeps me {uuid.uuid4().hex}"
    response = httpx.post(
        f"{stack.backend_url}/api/v1/documents",
        json={"title": "before update", "content": content},
        timeout=30,
    )
    assert response.status_code == 201
    doc_id = response.json()["id"]
    with stack.mysql() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM documents")
        before = cursor.fetchone()

    started = time.monotonic()
    result = stack.script("deploy.sh", "update", timeout=400)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert time.monotonic() - started < 300
    stack.wait_healthy(timeout=30)

    with stack.mysql() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM documents")
        assert cursor.fetchone() == before
        cursor.execute("SELECT version_num FROM alembic_version")
        assert cursor.fetchone() == (alembic_head(),)
    found = httpx.post(
        f"{stack.backend_url}/api/v1/documents/search", json={"query": content}, timeout=30
    )
    assert found.status_code == 200 and found.json()["ids"][0] == str(doc_id)
