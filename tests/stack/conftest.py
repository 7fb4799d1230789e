"""One copy of the reference stack for the whole session, started with `deploy.sh init`
(healthchecks every 2 s: see stack_support.COMPOSE_FILES).

The copy is isolated from anything else on the machine: a unique compose project name,
unique container names, random published ports (0), fresh random secrets in a 0600 env file
under a temporary directory. It is removed with `deploy.sh clean --yes` and, whatever that
does, `docker compose down -v` at the end of the session (also if start-up failed).

Does not use the `stackprobe` package on purpose: these tests prove the stack and its
scripts, independently of the suite. One exception: test_backup.py compares tables with the
per-table checksums of `stackprobe.backup.checksums` (one piece of code for the scripts' tests
and the backup suite; it needs only a connection).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import secrets
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from stack_support import (
    COMPOSE_FILES,
    IMAGES_ENV,
    INIT_TIMEOUT,
    ROOT,
    Stack,
    docker_available,
    docker_client,
    parse_env_file,
)


def make_env_file(path: Path, project: str) -> dict[str, str]:
    """Every key of .env.example, fresh strong secrets, unique names, random ports."""
    values = parse_env_file(ROOT / ".env.example")
    values.update(parse_env_file(IMAGES_ENV))  # stand-in images, when the set-up made them
    values.update(
        COMPOSE_PROJECT_NAME=project,
        MYSQL_ROOT_PASSWORD=secrets.token_urlsafe(32),
        MYSQL_DATABASE="ai_assistant",
        MYSQL_USER="ai_user",
        MYSQL_PASSWORD=secrets.token_urlsafe(32),
        REDIS_PASSWORD=secrets.token_urlsafe(32),
        SECRET_KEY=secrets.token_urlsafe(48),
        DASHSCOPE_API_KEY="sk-" + secrets.token_hex(16),
        MYSQL_CONTAINER_NAME=f"{project}_mysql",
        REDIS_CONTAINER_NAME=f"{project}_redis",
        BACKEND_CONTAINER_NAME=f"{project}_backend",
        # an image tag of its own: deploy.sh builds it, and a build of the shared tag by another
        # test worker must not move what this stack's containers were created from
        BACKEND_IMAGE=f"{project}-backend:test",
        BACKEND_PORT="0",
        METRICS_PORT="0",
        MYSQL_PORT="0",
        REDIS_PORT="0",
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write("".join(f"{key}={value}\n" for key, value in values.items()))
    return values


def subprocess_env(env_file: Path, project: str, values: dict[str, str]) -> dict[str, str]:
    """The caller's environment minus anything that would override the env file."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in values
        and not k.startswith(("COMPOSE_", "BACKUP_", "STACK_"))
        and k not in {"CONFIRM", "BACKEND_URL", "METRICS_URL", "HEALTH_URL"}
    }
    env.update(STACK_ENV_FILE=str(env_file), COMPOSE_PROJECT_NAME=project,
               COMPOSE_FILE=":".join(str(f) for f in COMPOSE_FILES))
    return env


def teardown(stack: Stack) -> list[str]:
    """`deploy.sh clean --yes`, then `down -v` whatever clean did; returns what clean left."""
    stack.script("deploy.sh", "clean", "--yes", timeout=180)
    left = [c.name for c in stack.containers()] + [v.name for v in stack.volumes()]
    stack.compose("down", "-v", "--remove-orphans", "--timeout", "5", timeout=180)
    with contextlib.suppress(Exception):  # never built (init failed early)
        docker_client().images.remove(stack.values["BACKEND_IMAGE"], noprune=False)
    return left


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    reason = docker_available()
    if reason:
        pytest.skip(f"needs Docker: {reason}")
    workdir = tmp_path_factory.mktemp("stack")
    project = f"sptest_{uuid.uuid4().hex[:10]}"
    env_file = workdir / "stack.env"
    values = make_env_file(env_file, project)
    stack = Stack(project=project, env_file=env_file, values=values, workdir=workdir)
    stack.env = subprocess_env(env_file, project, values)

    done = False
    left: list[str] = []

    def cleanup() -> None:
        nonlocal done, left
        if not done:
            done = True
            left = teardown(stack)

    atexit.register(cleanup)  # also after Ctrl-C, when fixture teardown may not run
    try:
        started = time.monotonic()
        result = stack.script("deploy.sh", "init", timeout=INIT_TIMEOUT)
        if result.returncode != 0:
            logs = stack.compose("logs", "--tail=50", timeout=60)
            pytest.fail(
                f"deploy.sh init exited {result.returncode}\nstdout:\n{result.stdout[-4000:]}\n"
                f"stderr:\n{result.stderr[-4000:]}\nlogs:\n{logs.stdout[-4000:]}",
                pytrace=False,
            )
        stack.init_seconds = time.monotonic() - started
        yield stack
    finally:
        cleanup()
    # After the safety net ran: `clean --yes` itself must have removed everything.
    assert not left, f"deploy.sh clean --yes left {left}"
