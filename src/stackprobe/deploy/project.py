"""A throwaway project that only the deployment's own deploy command starts, changes and removes.

A `DeployProject` is an `EphemeralTarget` that is never started by compose: the generated env
file (template keys, strong random secrets, unique names) is written as one file for the
deploy command, with fixed free loopback ports so clients keep their address across restarts,
and images the command builds get a tag of the project's own.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from stackprobe.commands import CommandRun, run_command
from stackprobe.profile import Profile
from stackprobe.redact import REDACTOR
from stackprobe.targets.base import PROJECT_LABEL, Service, docker_health
from stackprobe.targets.envfiles import write_env
from stackprobe.targets.ephemeral import EphemeralTarget


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

    def deploy(self, action: str, *args: str, extra_env: dict[str, str] | None = None,
               timeout: float | None = None) -> CommandRun:
        """Run one of the deploy command's actions ([deploy] actions), `args` after it."""
        argv = self.profile.deploy.action(action)
        if not argv:
            raise ValueError(f"the deploy command offers no {action} ([deploy] actions.{action} = [])")
        return self.run([*argv, *args], extra_env=extra_env, timeout=timeout)

    def expand(self, argv: Sequence[str], shown: bool = False) -> list[str]:
        """`{deploy}` is the deploy command and `{env_file}` this project's env file; `shown`
        keeps the profile's own words, for messages (`stack/scripts/deploy.sh clean`)."""
        expanded: list[str] = []
        for arg in argv:
            if arg == "{deploy}":
                expanded += self.profile.deploy.command if shown else self.command
            else:
                expanded.append(arg if shown else arg.replace("{env_file}", str(self.env_file)))
        return expanded

    def shown(self, action: str) -> str:
        """An action's command as the profile names it."""
        return " ".join(self.expand(self.profile.deploy.action(action), shown=True))

    def run(self, argv: Sequence[str], extra_env: dict[str, str] | None = None,
            timeout: float | None = None) -> CommandRun:
        return run_command(self.expand(argv), cwd=self.project_dir, env=self.environ(extra_env),
                           timeout=timeout or self.profile.deploy.command_timeout_s)

    # --- what exists ------------------------------------------------------------------------
    def containers_by_service(self) -> dict[str, dict[str, str]]:
        """service -> {id, status, health} for the project's long-running containers."""
        found: dict[str, dict[str, str]] = {}
        for container in self.target.containers():
            state = container.attrs.get("State", {})
            found[str(container.labels.get("com.docker.compose.service", container.name))] = {
                "id": str(container.id)[:12], "name": str(container.name), "status": str(container.status),
                "health": docker_health(state),
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
