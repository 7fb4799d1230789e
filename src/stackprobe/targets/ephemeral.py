"""A throwaway copy of the stack: unique project, random secrets, random loopback ports, and
nothing shared with any other project (targets/isolation.py computes that from the rendered
compose model). Its state (env files, the isolation override, fresh bind directories) lives in
the user's state directory, outside the project."""

from __future__ import annotations

import dataclasses
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from testcontainers.compose import DockerCompose

from stackprobe.checks.compose_render import render_compose
from stackprobe.checks.findings import ConfigInputError
from stackprobe.checks.policies import secret_policy
from stackprobe.errors import StackprobeUsageError
from stackprobe.profile import Profile, with_roles
from stackprobe.redact import REDACTOR
from stackprobe.targets.base import PROJECT_LABEL, Target, container_ready, docker_health
from stackprobe.targets.envfiles import generated_from_template, read_env, write_env
from stackprobe.targets.isolation import isolation_override, prepare_binds, state_root, to_yaml
from stackprobe.targets.leftovers import PREFIX, remove_leftovers


@dataclasses.dataclass
class _ProjectCompose(DockerCompose):
    """testcontainers' DockerCompose with `-p PROJECT` on every command: its own class has no
    project-name parameter, and COMPOSE_PROJECT_NAME in the process environment is shared by every
    thread (two copies started at once left it naming one of them for every later compose call)."""

    project: str = ""

    @property
    def compose_command_property(self) -> list[str]:
        command: list[str] = super().compose_command_property
        return [*command[:2], "-p", self.project, *command[2:]]


class StackStartError(Exception):
    """The stack did not come up; the message carries the failing services' logs."""


class EphemeralTarget(Target):
    kind = "ephemeral"

    def __init__(
        self,
        profile: Profile,
        project_dir: Path,
        compose_files: list[Path],
        env_file: Path | None,
        project: str | None = None,
        host_port: Callable[[], str] = lambda: "",
    ) -> None:
        """`host_port` picks the host port of each published port ("" lets the engine pick one)."""
        project = project or f"{PREFIX}{os.getpid()}x{secrets.token_hex(3)}"
        state = state_root() / project
        template = project_dir / profile.stack.env_template
        # a generated env file gets the profile's ephemeral_env on top (e.g. a small LOG_MAX_BYTES)
        values = read_env(env_file) if env_file else {
            **generated_from_template(template, secret_policy(profile.secrets)), **profile.stack.ephemeral_env}
        # Overlay: the project's name only. No stack's variable names: isolation (names, ports,
        # networks, volumes, binds) comes from the override `_isolate` computes from the rendered model.
        overlay = {"COMPOSE_PROJECT_NAME": project}
        generated = state / ".env"
        overlay_file = state / "overlay.env"
        env_files = [env_file] if env_file else [generated]
        if not env_file:
            write_env(generated, values)
        write_env(overlay_file, overlay)
        super().__init__(profile, project, project_dir, compose_files, [*env_files, overlay_file],
                         {**values, **overlay})
        self.state_dir = state
        self._compose: _ProjectCompose | None = None
        self.fresh_binds: dict[str, str] = {}  # bind source -> the copy's own directory
        if compose_files:
            try:
                self._isolate(overlay, host_port)
            except BaseException:
                shutil.rmtree(self.state_dir, ignore_errors=True)  # the env files written above
                raise

    def _isolate(self, overlay: dict[str, str], host_port: Callable[[], str]) -> None:
        """Render the stack as `up` will see it (the shell's variables win over the env files, as
        in compose), write the isolation override and append it to the compose files."""
        environ = {**overlay, **os.environ, "COMPOSE_PROJECT_NAME": self.project}
        try:
            model = render_compose(self.compose_files, self.env_files[0], self.project_dir, environ=environ)
        except ConfigInputError as error:
            raise StackprobeUsageError(str(error)) from None
        stack = self.profile.stack
        override, binds = isolation_override(
            model, self.project, self.project_dir, self.state_dir, copy_binds=stack.ephemeral_copy_binds,
            build=stack.ephemeral_build, host_port=host_port)
        prepare_binds(binds)
        path = self.state_dir / "isolation.yml"
        path.write_text(to_yaml(override) + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
        self.fresh_binds = {str(b.source): str(b.fresh) for b in binds}
        self.compose_files = [*self.compose_files, path]

    def start(self) -> list[str]:
        """Bring the stack up; returns the leftover projects of killed runs it removed first."""
        _ = self.docker  # fail fast, with one line, when there is no engine
        for file in self.compose_files:
            if not file.is_file():
                raise StackprobeUsageError(
                    f"compose file {file} does not exist: check --compose-file / [stack] compose_files"
                )
        removed = remove_leftovers(self.docker)
        self._refuse_existing_project()
        REDACTOR.add_environment(self.env, "env file")
        self._compose = _ProjectCompose(
            project=self.project,
            context=str(self.project_dir),
            compose_file_name=[str(f) for f in self.compose_files],
            env_file=[str(f) for f in self.env_files],
            wait=True,
        )
        try:
            self._bring_up()
        except BaseException:
            # start-up failure, Ctrl-C or SIGTERM half-way: nothing of this copy may outlive the run
            self.stop()
            raise
        return removed

    def _refuse_existing_project(self) -> None:
        """An ephemeral copy ends with `down -v`: given the name of a project that already exists
        (a live deployment, say), it would take that project over and delete its volumes."""
        label = {"label": f"{PROJECT_LABEL}={self.project}"}
        if self.docker.containers.list(all=True, filters=label) or self.docker.volumes.list(filters=label):
            raise StackprobeUsageError(
                f"compose project {self.project} already exists on this engine; an ephemeral run would take it "
                f"over and remove its volumes: choose an unused --project-name, or use --target live")

    def _bring_up(self) -> None:
        assert self._compose is not None
        try:
            self._compose.start()  # not __enter__: it would remove the containers and their logs
        except subprocess.CalledProcessError as error:
            raise StackStartError(REDACTOR.redact(self._failure_report(error))) from None
        command = with_roles(self.profile.stack.migrate_command, self.profile)
        if command:
            migrate = self.compose(*command, check=False)
            if migrate.returncode != 0:
                raise StackStartError(REDACTOR.redact(
                    f"migration `docker compose {' '.join(command)}` "
                    f"failed ({migrate.returncode}): {migrate.stderr.strip()[-1500:]}"))
        self.learn_secrets()
        self._await_backend()

    def _await_backend(self) -> None:
        """compose --wait waits for healthchecks; a backend without one is waited for here, until
        its health URL answers at all (any status), bounded by [health] start_wait_s: an app still
        starting must not fail the first check that asks it. Whatever it then answers is judged."""
        backend = self.services().get(self.profile.services.backend)
        if backend is None or docker_health(backend.state()) != "none":
            return
        client, url = self.http(), self.health_url
        deadline = time.monotonic() + self.profile.health.start_wait_s
        while time.monotonic() < deadline:
            try:
                client.get(url, timeout=5)
                return
            except httpx.HTTPError:
                time.sleep(0.5)

    def _failure_report(self, error: subprocess.CalledProcessError) -> str:
        stderr = (error.stderr or b"").decode("utf-8", "replace").strip().splitlines()
        lines = [f"the stack did not become healthy: {' '.join(stderr[-3:])}"]
        for service in self.services().values():
            state = service.state()
            if not container_ready(state):
                lines.append(f"--- {service.name}: status={state.get('Status')} health={docker_health(state)}; "
                             "last log lines:")
                lines += service.logs(tail=30).rstrip().splitlines()
        return "\n".join(lines)

    def stop(self) -> None:
        """down -v: containers, networks and volumes of this project only."""
        self.close()
        subprocess.run(
            ["docker", "compose", "-p", self.project, "down", "-v", "--remove-orphans", "-t", "5"],
            capture_output=True, timeout=180,
        )
        leftover = self.docker.containers.list(all=True, filters={"label": f"{PROJECT_LABEL}={self.project}"})
        for container in leftover:
            container.remove(force=True, v=True)
        shutil.rmtree(self.state_dir, ignore_errors=True)
